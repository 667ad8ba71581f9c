#!/usr/bin/env bash
# Issue 7: "a Prometheus outage loses nothing once storage is configured".
# pipit's prometheusremotewrite exporter has a durable queue
# (sending_queue: {storage: sqlite_storage}). Prometheus (Debian's 2.42,
# remote-write receiver on) is stopped; the JS SDK sends metrics; pipit is
# stopped with SIGTERM while Prometheus is still down, so what it holds goes to
# disk; pipit starts again (Prometheus still down: it must find the requests on
# disk and keep them there), takes one more send, and is stopped again; then
# Prometheus starts on the same TSDB and pipit once more: PromQL must find every
# sample with its exact value (prom_check.mjs: last value, count_over_time ==
# points exported, histogram buckets), none rejected by Prometheus (out of
# order, out of bounds, duplicate) and none dropped by pipit.
source "$(dirname "$0")/lib.sh"
prom_setup

# The ports and the storage directory stay the same across pipit restarts.
OTLP=$(free_port); HEALTH=$(free_port); SDK_TELEMETRY=$(free_port)
cat >"$WORK/pipit.yaml" <<YAML
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$OTLP
exporters:
  prometheusremotewrite:
    endpoint: $PROM/api/v1/write
    external_labels: {}
    remote_write_queue: {num_consumers: 3}
    sending_queue:
      storage: sqlite_storage
    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 2s}
    circuit_breaker: {failure_threshold: 3, cool_down: 300ms}
extensions:
  health_check:
    endpoint: 127.0.0.1:$HEALTH
  sqlite_storage:
    directory: $WORK/store
service:
  extensions: [health_check, sqlite_storage]
  shutdown_timeout: 2s
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite]
  telemetry:
    metrics:
      address: 127.0.0.1:$SDK_TELEMETRY
YAML

RUN=0
start_agent() {
  RUN=$((RUN + 1))
  start_pipit "pipit$RUN" --config "$WORK/pipit.yaml"
  wait_http "http://127.0.0.1:$HEALTH/" 20
}

# Stops pipit; everything it logged must show no loss.
stop_agent() {
  stop_pipit "$PIPIT_PID" 30
  [ "$STOP_RC" = 0 ] || fail "run $RUN: pipit exited $STOP_RC after SIGTERM"
  if grep -E '"reason":"(shutdown_deadline|storage_quota|rejected_400)"' "$WORK/pipit$RUN.log"; then
    fail "run $RUN: pipit dropped data (log above)"
  fi
}

m() { local v; v=$(sdk_metric "$1"); echo "${v:-0}"; }
sent_points() { m 'otelcol_exporter_sent_metric_points_total{exporter="prometheusremotewrite"}'; }
queue_size() { m 'otelcol_exporter_queue_size{exporter="prometheusremotewrite"}'; }

# send NAME SEED: the SDK sends cumulative data; the expected file is $WORK/NAME.jsonl.
send() {
  node "$SDK_DIR/send_metrics.mjs" --protocol http/protobuf --endpoint "http://127.0.0.1:$OTLP" \
    --series 8 --rounds 4 --seed "$2" --temporality cumulative --out "$WORK/$1.jsonl" \
    >"$WORK/$1-sender.log" 2>&1 || { cat "$WORK/$1-sender.log"; fail "$1: the SDK could not export to pipit"; }
  head -n 1 "$WORK/$1.jsonl" | jq .count
}

# await_delivered N: pipit (this run) has delivered N points and its queue is empty.
await_delivered() {
  local i have=0 q=0
  for ((i = 0; i < 300; i++)); do
    have=$(sent_points); q=$(queue_size)
    [ "$have" -ge "$1" ] && [ "$q" = 0 ] && return 0
    sleep 0.2
  done
  fail "run $RUN: pipit delivered $have of $1 points (queue $q)"
}

check() {
  node "$SDK_DIR/prom_check.mjs" --prom "$PROM" --expected "$WORK/$1.jsonl" || fail "$1: Prometheus holds something else"
}

no_losses() {
  local dropped rejected
  dropped=$(curl -sf "http://127.0.0.1:$SDK_TELEMETRY/metrics" |
    grep '^pipit_dropped_items_total{component="exporter/prometheusremotewrite"' | awk '$2 != 0' || true)
  [ -z "$dropped" ] || fail "run $RUN: pipit dropped points: $dropped"
  rejected=$(m 'pipit_prw_samples_rejected_total{exporter="prometheusremotewrite"}')
  [ "$rejected" = 0 ] || { grep -i 'rejected\|400' "$WORK/pipit$RUN.log" | head -20; fail "run $RUN: Prometheus refused $rejected samples"; }
}

t0=$(date +%s)
start_prom
start_agent
n=$(send before 11)
await_delivered "$n"
check before
no_losses
pass "before the outage: $n points delivered through the durable queue"

# Outage 1: Prometheus down, the SDK sends, pipit is stopped (SIGTERM).
stop_prom
n1=$(send outage1 12)
for ((i = 0; i < 100; i++)); do
  [ "$(m 'pipit_exporter_retries_total{exporter="prometheusremotewrite"}')" -gt 0 ] && break
  sleep 0.1
done
[ "$(m 'pipit_exporter_retries_total{exporter="prometheusremotewrite"}')" -gt 0 ] ||
  fail "pipit did not retry while Prometheus was down"
[ "$(sent_points)" -le "$n" ] || fail "points counted as sent while Prometheus was down"
no_losses
stop_agent
[ -s "$WORK/store/pipit-queue.db" ] || fail "no queue database in $WORK/store"
pass "outage, run 1: $n1 points accepted, pipit stopped with Prometheus down"

# Run 2, Prometheus still down: the requests come back from disk and stay
# queued; one more send joins them.
start_agent
for ((i = 0; i < 100; i++)); do [ "$(queue_size)" -gt 0 ] && break; sleep 0.1; done
q2=$(queue_size)
[ "$q2" -gt 0 ] || fail "run 2: nothing queued after a restart (the disk should hold run 1's requests)"
n2=$(send outage2 13)
sleep 1 # some retries against the dead Prometheus
[ "$(sent_points)" = 0 ] || fail "run 2: points counted as sent while Prometheus was down"
no_losses
stop_agent
pass "outage, run 2: $q2 requests found on disk, $n2 more points accepted, stopped again"

# Prometheus back on the same TSDB; run 3 replays everything from disk.
start_prom
start_agent
await_delivered $((n1 + n2))
retries=$(m 'pipit_exporter_retries_total{exporter="prometheusremotewrite"}')
no_losses
check before
check outage1
check outage2
samples=$(m 'pipit_prw_samples_sent_total{exporter="prometheusremotewrite"}')
stop_agent
stop_prom
grep -iE 'out of order|out of bounds|duplicate sample' "$WORK/prometheus.log" && fail "Prometheus logged rejected samples"
pass "prometheus_rw_storage: $((n + n1 + n2)) points, $samples samples replayed from disk (run 3, $retries retries) all in Prometheus in $(($(date +%s) - t0)) s"

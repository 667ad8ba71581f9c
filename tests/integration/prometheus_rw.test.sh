#!/usr/bin/env bash
# End to end with a real Prometheus (Debian's prometheus 2.42, remote-write
# receiver on): the OpenTelemetry JS SDK sends counters, up-down counters,
# gauges and histograms to pipit over OTLP/HTTP; pipit's prometheusremotewrite
# exporter writes them to Prometheus; sdk/prom_check.mjs then checks names,
# job/instance labels, exact values, histogram_quantile, rate, sample counts
# and target_info with PromQL. Cumulative, delta (converted to cumulative in
# the exporter), and an outage: Prometheus stopped while the SDK sends,
# restarted on the same TSDB, and nothing may be missing.
source "$(dirname "$0")/lib.sh"
prom_setup

start_prom

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
    retry_on_failure: {initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 2m}
    circuit_breaker: {cool_down: 500ms}
extensions:
  health_check:
    endpoint: 127.0.0.1:$HEALTH
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheusremotewrite]
  telemetry:
    metrics:
      address: 127.0.0.1:$SDK_TELEMETRY
YAML
start_pipit pipit --config "$WORK/pipit.yaml"
wait_http "http://127.0.0.1:$HEALTH/" 20

SENT=0
sent_points() {
  local v
  v=$(sdk_metric 'otelcol_exporter_sent_metric_points_total{exporter="prometheusremotewrite"}')
  echo "${v:-0}"
}

# send NAME SEED TEMPORALITY: the SDK sends, the expected file is $WORK/NAME.jsonl.
send() {
  node "$SDK_DIR/send_metrics.mjs" --protocol http/protobuf --endpoint "http://127.0.0.1:$OTLP" \
    --series 8 --rounds 4 --seed "$2" --temporality "$3" --out "$WORK/$1.jsonl" \
    >"$WORK/$1-sender.log" 2>&1 || { cat "$WORK/$1-sender.log"; fail "$1: the SDK could not export to pipit"; }
  SENT=$((SENT + $(head -n 1 "$WORK/$1.jsonl" | jq .count)))
}

# Waits (bounded) until pipit has delivered $SENT points.
await_delivered() {
  local i have=0
  for ((i = 0; i < ${1:-100}; i++)); do
    have=$(sent_points)
    [ "$have" -ge "$SENT" ] && return 0
    sleep 0.2
  done
  fail "pipit delivered $have of $SENT points"
}

check() {
  node "$SDK_DIR/prom_check.mjs" --prom "$PROM" --expected "$WORK/$1.jsonl" || fail "$1: Prometheus holds something else"
}

t0=$(date +%s)
send cumulative 1 cumulative
await_delivered
check cumulative
pass "cumulative: names, labels, values, histogram_quantile, rate, target_info"

# Delta counters and histograms: the exporter converts them to cumulative
# itself (no deltatocumulative processor in the pipeline).
send delta 2 delta
await_delivered
check delta
pass "delta: converted to cumulative by the exporter"

# Outage: Prometheus goes away while the SDK sends; pipit keeps the requests
# and retries; Prometheus comes back on the same TSDB.
stop_prom
retries0=$(sdk_metric 'pipit_exporter_retries_total{exporter="prometheusremotewrite"}')
send outage 3 cumulative
for ((i = 0; i < 50; i++)); do
  r=$(sdk_metric 'pipit_exporter_retries_total{exporter="prometheusremotewrite"}')
  [ "${r:-0}" -gt "${retries0:-0}" ] && break
  sleep 0.1
done
[ "${r:-0}" -gt "${retries0:-0}" ] || fail "pipit did not retry while Prometheus was down"
[ "$(sent_points)" -lt "$SENT" ] || fail "points counted as sent while Prometheus was down"
start_prom
await_delivered 300
check outage
check cumulative # still all there after the restart
pass "outage: nothing lost across a Prometheus restart ($((r - ${retries0:-0})) retries)"

dropped=$(curl -sf "http://127.0.0.1:$SDK_TELEMETRY/metrics" | grep '^pipit_dropped_items_total{component="exporter/prometheusremotewrite"' |
  awk '$2 != 0' || true)
[ -z "$dropped" ] || fail "pipit dropped points: $dropped"
rejected=$(sdk_metric 'pipit_prw_samples_rejected_total{exporter="prometheusremotewrite"}')
[ "${rejected:-0}" = 0 ] || fail "Prometheus refused $rejected samples"
samples=$(sdk_metric 'pipit_prw_samples_sent_total{exporter="prometheusremotewrite"}')

stop_pipit "$PIPIT_PID" 20
[ "$STOP_RC" = 0 ] || fail "pipit exited $STOP_RC after SIGTERM"
stop_prom
pass "prometheus_rw: $SENT points, $samples samples delivered in $(($(date +%s) - t0)) s"

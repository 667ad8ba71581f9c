#!/usr/bin/env bash
# RED metrics end to end with a real Prometheus (Debian's prometheus, remote
# write receiver on): the OpenTelemetry JS SDK sends traces to pipit over
# OTLP/HTTP; pipit's traces pipeline exports them to the spanmetrics connector
# (flushing every second), whose metrics pipeline writes them with
# prometheusremotewrite to Prometheus. sdk/spanmetrics_check.mjs then checks,
# with PromQL, the calls per (service, span name, kind, status), every
# duration bucket of every series, _count/_sum, histogram_quantile and rate()
# against values computed from the spans the SDK reports it sent. Two rounds
# of spans, one after the other, so that the counters grow between samples
# and rate() has something to measure.
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
connectors:
  spanmetrics:
    metrics_flush_interval: 1s
exporters:
  prometheusremotewrite:
    endpoint: $PROM/api/v1/write
    retry_on_failure: {initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 1m}
extensions:
  health_check:
    endpoint: 127.0.0.1:$HEALTH
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [prometheusremotewrite]
  telemetry:
    metrics:
      address: 127.0.0.1:$SDK_TELEMETRY
YAML
start_pipit pipit --config "$WORK/pipit.yaml"
wait_http "http://127.0.0.1:$HEALTH/" 20

t0=$(date +%s)
send() { # send NAME SEED
  sdk_send "$1" traces http/protobuf "http://127.0.0.1:$OTLP" none "$WORK/$1.jsonl" \
    --traces 150 --spans-per-trace 8 --seed "$2"
}

# Waits (bounded) until Prometheus counts $1 calls in all.
await_calls() {
  local i have=0
  for ((i = 0; i < 120; i++)); do
    have=$(curl -sf "$PROM/api/v1/query" --data-urlencode 'query=sum(traces_span_metrics_calls_total)' |
      jq -r '.data.result[0].value[1] // 0')
    [ "$have" = "$1" ] && return 0
    sleep 0.25
  done
  fail "Prometheus counts $have calls, expected $1"
}

send round1 11
N1=$(sdk_expected_count "$WORK/round1.jsonl")
await_calls "$N1"
pass "round 1: $N1 spans counted in Prometheus"

send round2 12
N2=$(sdk_expected_count "$WORK/round2.jsonl")
sleep 2.5 # at least two more flushes: the series grow between samples
node "$SDK_DIR/spanmetrics_check.mjs" --prom "$PROM" --expected "$WORK/round1.jsonl,$WORK/round2.jsonl" --wait 60 ||
  fail "Prometheus holds other RED metrics than the spans sent"
pass "calls, duration buckets, _count/_sum, histogram_quantile and rate match $((N1 + N2)) spans"

dropped=$(curl -sf "http://127.0.0.1:$SDK_TELEMETRY/metrics" | grep '^pipit_dropped_items_total' | awk '$2 != 0' || true)
[ -z "$dropped" ] || fail "pipit dropped items: $dropped"
rejected=$(sdk_metric 'pipit_prw_samples_rejected_total{exporter="prometheusremotewrite"}')
[ "${rejected:-0}" = 0 ] || fail "Prometheus refused $rejected samples"

stop_pipit "$PIPIT_PID" 20
[ "$STOP_RC" = 0 ] || fail "pipit exited $STOP_RC after SIGTERM"
pass "spanmetrics_prometheus: $((N1 + N2)) spans in $(($(date +%s) - t0)) s"

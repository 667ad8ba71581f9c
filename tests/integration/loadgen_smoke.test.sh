#!/usr/bin/env bash
# The benchmark harness in smoke size: pipit-loadgen's smoke scenario through
# pipit (otlp receiver -> batch -> otlp / otlphttp / prometheusremotewrite
# exporters) into `pipit-loadgen sink`. Asserts counts only, never speed: every
# span and point pipit acknowledged to loadgen arrives at the sink, every
# remote-write sample pipit counts as sent arrives at the sink's --prw
# listener, and pipit's otelcol_receiver_accepted_* counters agree with
# loadgen's acknowledged count.
source "$(dirname "$0")/lib.sh"

LOADGEN=${PIPIT_BINARY_DIR:?}/tools/loadgen/pipit-loadgen
[ -x "$LOADGEN" ] || fail "no $LOADGEN (is tools/ built?)"

# The sink, on ports it picks; its first stdout line names them.
"$LOADGEN" sink --grpc 127.0.0.1:0 --http 127.0.0.1:0 --stats 127.0.0.1:0 --prw 127.0.0.1:0 \
  >"$WORK/sink.out" 2>"$WORK/sink.log" &
SINK_PID=$!
PIDS+=("$SINK_PID")
for ((i = 0; i < 200; i++)); do [ -s "$WORK/sink.out" ] && break; sleep 0.05; done
ready=$(head -n1 "$WORK/sink.out")
SINK_GRPC=$(jq -r .grpc_port <<<"$ready")
SINK_HTTP=$(jq -r .http_port <<<"$ready")
SINK_STATS=$(jq -r .stats_port <<<"$ready")
SINK_PRW=$(jq -r .prw_port <<<"$ready")
[ "$SINK_GRPC" -gt 0 ] && [ "$SINK_HTTP" -gt 0 ] && [ "$SINK_PRW" -gt 0 ] || fail "sink not ready: $ready"
pass "sink listening (grpc $SINK_GRPC, http $SINK_HTTP, remote write $SINK_PRW)"

GRPC=$(free_port); HTTP=$(free_port); METRICS=$(free_port)
cat >"$WORK/pipit.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:$GRPC"}
      http: {endpoint: "127.0.0.1:$HTTP"}
processors:
  batch:
exporters:
  otlp/sink:
    endpoint: "127.0.0.1:$SINK_GRPC"
    tls: {insecure: true}
  otlphttp/sink:
    endpoint: "http://127.0.0.1:$SINK_HTTP"
  prometheusremotewrite/sink:
    endpoint: "http://127.0.0.1:$SINK_PRW/api/v1/write"
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/sink]}
    metrics: {receivers: [otlp], processors: [batch], exporters: [otlphttp/sink, prometheusremotewrite/sink]}
  telemetry:
    metrics: {address: "127.0.0.1:$METRICS"}
YAML
start_pipit pipit --config "$WORK/pipit.yaml"
wait_http "http://127.0.0.1:$METRICS/metrics" 20

"$LOADGEN" --scenario smoke --duration 2 --endpoint "127.0.0.1:$GRPC" --quiet \
  >"$WORK/traces.json" 2>"$WORK/loadgen-traces.log" || fail "loadgen (traces over gRPC) failed"
"$LOADGEN" --scenario smoke --duration 2 --signal metrics --protocol http/protobuf \
  --endpoint "127.0.0.1:$HTTP" --quiet >"$WORK/metrics.json" 2>"$WORK/loadgen-metrics.log" \
  || fail "loadgen (metrics over HTTP) failed"
spans=$(jq .spans.acked "$WORK/traces.json")
points=$(jq .points.acked "$WORK/metrics.json")
[ "$spans" -gt 0 ] && [ "$points" -gt 0 ] || fail "nothing acknowledged: $spans spans, $points points"
[ "$(jq .requests.failed "$WORK/traces.json")" = 0 ] || fail "failed requests: $(cat "$WORK/traces.json")"
pass "loadgen: $spans spans and $points points acknowledged"

metric() { curl -sf "http://127.0.0.1:$METRICS/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" {s += $NF} END {print s + 0}'; }
[ "$(metric otelcol_receiver_accepted_spans_total)" = "$spans" ] \
  || fail "pipit accepted $(metric otelcol_receiver_accepted_spans_total) spans, loadgen saw $spans acked"
[ "$(metric otelcol_receiver_accepted_metric_points_total)" = "$points" ] \
  || fail "pipit accepted $(metric otelcol_receiver_accepted_metric_points_total) points, loadgen saw $points"
pass "pipit's accepted counters equal loadgen's acknowledged counts"

# Remote write: once pipit's exporter has sent every point (bounded wait), the
# sink holds the samples pipit counts as sent.
prw_sent() {
  curl -sf "http://127.0.0.1:$METRICS/metrics" | awk 'index($0, "otelcol_exporter_sent_metric_points_total{") == 1 &&
    index($0, "exporter=\"prometheusremotewrite/sink\"") {s += $NF} END {print s + 0}'
}
for ((i = 0; i < 200; i++)); do [ "$(prw_sent)" = "$points" ] && break; sleep 0.05; done
[ "$(prw_sent)" = "$points" ] || fail "prometheusremotewrite sent $(prw_sent) of $points points"
samples=$(metric pipit_prw_samples_sent_total)
prw=$(curl -sf "http://127.0.0.1:$SINK_STATS/counts" | jq -c .prw)
[ "$samples" -gt 0 ] && [ "$(jq .samples <<<"$prw")" = "$samples" ] && [ "$(jq .rejected <<<"$prw")" = 0 ] \
  || fail "pipit sent $samples remote-write samples, the sink took $prw"
pass "remote write: the sink took all $samples samples pipit sent ($prw)"

# SIGTERM drains the batch processor and the exporters' queues.
stop_pipit "$PIPIT_PID" 15
[ "$STOP_RC" = 0 ] || fail "pipit exit code $STOP_RC"
counts=$(curl -sf "http://127.0.0.1:$SINK_STATS/counts")
[ "$(jq .spans <<<"$counts")" = "$spans" ] || fail "sink got $(jq .spans <<<"$counts") spans, want $spans"
[ "$(jq .points <<<"$counts")" = "$points" ] || fail "sink got $(jq .points <<<"$counts") points, want $points"
pass "every acknowledged span and point arrived at the sink"

kill -TERM "$SINK_PID"
set +e; wait "$SINK_PID"; rc=$?; set -e
[ "$rc" = 0 ] || fail "sink exit code $rc"
[ "$(tail -n1 "$WORK/sink.out" | jq .spans)" = "$spans" ] || fail "sink's exit report differs"
pass "sink reports its counts at exit"

#!/usr/bin/env bash
# memory_limiter backpressure end to end, with the real pipit process.
#  1. limit_mib far below the process's RSS (the soft limit is exceeded from
#     the first check): OTLP/HTTP answers 503 with Retry-After, OTLP/gRPC
#     UNAVAILABLE (14) with a RetryInfo; nothing is accepted, nothing exported,
#     and every refusal is counted.
#  2. a generous limit: the same requests are accepted, and what pipit
#     acknowledged is exactly what its exporter sent: nothing goes missing.
source "$(dirname "$0")/lib.sh"

NA=(/usr/bin/python3 "$(dirname "$0")/netabuse.py")
N=20 # requests per protocol and phase, 10 spans each
"${NA[@]}" spans 10 >"$WORK/spans.pb"
grpc_frame 00 "$WORK/spans.pb" "$WORK/spans.grpc"

run() { # run NAME LIMIT_MIB SPIKE_MIB
  GP=$(free_port) HP=$(free_port) HC=$(free_port) MP=$(free_port)
  cat >"$WORK/$1.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:$GP}
      http: {endpoint: 127.0.0.1:$HP}
processors:
  memory_limiter: {check_interval: 100ms, limit_mib: $2, spike_limit_mib: $3}
  batch: {timeout: 100ms}
exporters: {debug: {verbosity: basic}}
extensions: {health_check: {endpoint: 127.0.0.1:$HC}}
service:
  extensions: [health_check]
  pipelines: {traces: {receivers: [otlp], processors: [memory_limiter, batch], exporters: [debug]}}
  telemetry: {metrics: {address: 127.0.0.1:$MP}}
YAML
  start_pipit "$1" --config "$WORK/$1.yaml"
  for ((i = 0; i < 200; i++)); do # health may be 503 (degraded) in phase 1: wait for /metrics
    curl -sf -o /dev/null "http://127.0.0.1:$MP/metrics" && break
    sleep 0.05
  done
  sleep 0.3 # a few check intervals: the limiter has measured
}

# ---- 1. over the limit ----
run low 8 2
for ((i = 0; i < N; i++)); do
  code=$(http_post "$HP" "$WORK/spans.pb")
  [ "$code" = 503 ] || fail "HTTP over the memory limit: status $code, want 503"
  ra=$(tr -d '\r' <"$WORK/http.hdr" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
  [ -n "$ra" ] && [ "$ra" -ge 1 ] || fail "HTTP 503 without a Retry-After header: $(cat "$WORK/http.hdr")"
  code=$(grpc_call "$GP" "$WORK/spans.grpc")
  [ "$code" = 14 ] || fail "gRPC over the memory limit: grpc-status $code, want 14 (UNAVAILABLE)"
  grep -qi '^grpc-status-details-bin:' "$WORK/grpc.hdr" || fail "gRPC UNAVAILABLE without RetryInfo details"
done
echo "  $N HTTP requests: 503, Retry-After: $ra; $N gRPC calls: UNAVAILABLE with details"
for t in http grpc; do
  l="receiver=\"otlp\",transport=\"$t\""
  [ "$(metric "$MP" otelcol_receiver_accepted_spans_total "$l")" = 0 ] || fail "$t: spans accepted over the limit"
  got=$(metric "$MP" pipit_receiver_refused_requests_total "reason=\"memory_limit\",$l")
  [ "$got" = "$N" ] || fail "$t: pipit_receiver_refused_requests_total{reason=memory_limit} = $got, want $N"
done
[ "$(metric "$MP" otelcol_exporter_sent_spans_total 'exporter="debug"')" = 0 ] || fail "spans exported over the limit"
stop_pipit "$PIPIT_PID" 5
[ "$STOP_RC" = 0 ] || fail "exit code $STOP_RC (a sanitizer report makes it non-zero)"
pass "over the memory limit: 503 + Retry-After / UNAVAILABLE + RetryInfo; $N refusals counted per transport; nothing accepted or exported"

# ---- 2. a generous limit ----
run high 4000 100
ok_http=0 ok_grpc=0
for ((i = 0; i < N; i++)); do
  [ "$(http_post "$HP" "$WORK/spans.pb")" = 200 ] && ok_http=$((ok_http + 1))
  [ "$(grpc_call "$GP" "$WORK/spans.grpc")" = 0 ] && ok_grpc=$((ok_grpc + 1))
done
[ "$ok_http" = "$N" ] && [ "$ok_grpc" = "$N" ] || fail "under a generous limit: $ok_http/$N HTTP, $ok_grpc/$N gRPC succeeded"
acked=$(((ok_http + ok_grpc) * 10))
for ((i = 0; i < 100; i++)); do # the batch processor flushes within its 100 ms timeout
  [ "$(metric "$MP" otelcol_exporter_sent_spans_total 'exporter="debug"')" = "$acked" ] && break
  sleep 0.05
done
sent=$(metric "$MP" otelcol_exporter_sent_spans_total 'exporter="debug"')
acc=$(($(metric "$MP" otelcol_receiver_accepted_spans_total 'receiver="otlp",transport="http"') +
  $(metric "$MP" otelcol_receiver_accepted_spans_total 'receiver="otlp",transport="grpc"')))
[ "$acc" = "$acked" ] || fail "accepted $acc spans, acknowledged $acked"
[ "$sent" = "$acked" ] || fail "exported $sent spans, acknowledged $acked"
for t in http grpc; do
  l="reason=\"memory_limit\",receiver=\"otlp\",transport=\"$t\""
  [ "$(metric "$MP" pipit_receiver_refused_requests_total "$l")" = 0 ] || fail "$t: refusals under a generous limit"
done
stop_pipit "$PIPIT_PID" 5
[ "$STOP_RC" = 0 ] || fail "exit code $STOP_RC"
pass "generous limit: $acked spans acknowledged = $acc accepted = $sent exported"

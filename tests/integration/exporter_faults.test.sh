#!/usr/bin/env bash
# Issue 4, fault injection: SDK -> pipit A (otlp receiver -> batch -> otlp or
# otlphttp exporter) -> a scripted backend (backend/otlp_*_server.mjs, or a
# second pipit that is not there yet). Each case asserts what the backend
# stored, what A counted (sent, send_failed, retries, drops by reason) and
# that nothing else was lost: the stored spans plus the ones accounted for
# must be exactly what the SDK sent, field by field.
#   unavailable3  gRPC UNAVAILABLE three times, then OK: retried, all delivered once
#   retry-after   HTTP 503 with Retry-After: 2: the retry comes >= 2 s later
#   http-400      HTTP 400: dropped, logged with the server's message, counted
#                 as permanent_error, never resent
#   grpc-invalid  the same with gRPC INVALID_ARGUMENT
#   stall-grpc    the backend keeps the data but answers after the exporter's
#   stall-http    timeout: A resends; at-least-once, so the backend saw the
#                 stalled request's spans twice (counted exactly, see below)
#   outage30      nothing listens for 30 s, then a pipit comes up: nothing
#                 lost, the breaker opened (gauge and health) and closed
source "$(dirname "$0")/lib.sh"
sdk_require

SPANS_TRACES=40 # x 20 spans per trace: 800 spans
RELAY_BATCH=200 # so that A sends them in 4 or more requests

# Counter values of A's exporter $1 into the globals SENT FAILED RETRIES DROPS
# (all reasons) and CIRCUIT.
read_counters() {
  local id=$1
  SENT=$(metric_at "$A_TELEMETRY" "otelcol_exporter_sent_spans_total{exporter=\"$id\"}")
  FAILED=$(metric_at "$A_TELEMETRY" "otelcol_exporter_send_failed_spans_total{exporter=\"$id\"}")
  RETRIES=$(metric_at "$A_TELEMETRY" "pipit_exporter_retries_total{exporter=\"$id\"}")
  DROPS=$(metric_sum_at "$A_TELEMETRY" "pipit_dropped_items_total{component=\"exporter/$id\"")
  CIRCUIT=$(metric_at "$A_TELEMETRY" "pipit_exporter_circuit_state{exporter=\"$id\"}")
}

# fault_case NAME grpc|http SCRIPT EXPORTER_YAML: starts the scripted backend
# and A, sends $SPANS_TRACES traces over OTLP/gRPC, waits until the backend
# stored WANT - $2 spans... (see callers). Sets WANT, EXPECTED, B (backend name).
fault_start() {
  local name=$1 kind=$2 script=$3 body=$4 port
  port=$(free_port)
  B="$name-b"
  start_backend "$B" "$kind" "$port" --script "$script"
  body=${body//@PORT@/$port}
  body=${body//@TIMEOUT@/${TIMEOUT:-3s}}
  start_relay "$name-a" "${EXPORTER:?}" "$body"
  EXPECTED="$WORK/$name.expected.jsonl"
  sdk_send "$name" traces grpc "http://127.0.0.1:$A_GRPC" none "$EXPECTED" \
    --traces "$SPANS_TRACES" --spans-per-trace 20 --seed "$((++SEED))"
  WANT=$(sdk_expected_count "$EXPECTED")
}

fault_stop() {
  stop_pipit "$A_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$1: pipit A exited $STOP_RC after SIGTERM"
}

# Attempt timeout 3 s (@TIMEOUT@): ample for a node backend on a busy
# machine; the stall cases use 2 s and a backend 4 s late.
GRPC_EXP="    endpoint: 127.0.0.1:@PORT@
    tls:
      insecure: true
    timeout: @TIMEOUT@
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s"
HTTP_EXP="    endpoint: http://127.0.0.1:@PORT@
    timeout: @TIMEOUT@
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s"
SEED=0

# ---- UNAVAILABLE three times, then OK ----
EXPORTER=otlp
fault_start unavailable3 grpc unavailable,unavailable,unavailable "$GRPC_EXP"
wait_items "$WORK/$B.traces.jsonl" "$WANT" 30 || fail "unavailable3: the backend has $HAVE of $WANT spans"
read_counters otlp
fault_stop unavailable3
node "$SDK_DIR/check.mjs" --expected "$EXPECTED" --actual "$WORK/$B.traces.jsonl" ||
  fail "unavailable3: the backend's spans differ from what the SDK sent"
L="$WORK/$B.requests.jsonl"
[ "$(reqlog "$L" 'rows.slice(0, 3).every((r) => r.action === "unavailable")')" = true ] ||
  fail "unavailable3: the backend did not answer UNAVAILABLE to its first three requests"
# Every refused body came again, byte for byte, and was then taken once.
[ "$(reqlog "$L" 'rows.filter((r) => r.action === "unavailable").every((u) =>
    rows.filter((r) => r.sha === u.sha && r.action === "ok").length === 1)')" = true ] ||
  fail "unavailable3: a request answered UNAVAILABLE was not resent and taken exactly once"
[ "$RETRIES" = 3 ] || fail "unavailable3: pipit_exporter_retries is $RETRIES, expected 3"
[ "$SENT" = "$WANT" ] || fail "unavailable3: sent_spans is $SENT, expected $WANT"
[ "$FAILED" = 0 ] && [ "$DROPS" = 0 ] || fail "unavailable3: send_failed $FAILED, dropped $DROPS"
[ "$CIRCUIT" = 0 ] || fail "unavailable3: circuit state $CIRCUIT after recovery"
pass "unavailable3: $WANT spans exact after 3 UNAVAILABLE answers ($(reqlog "$L" 'rows.length') requests seen); retries 3, sent $SENT, failed 0, dropped 0"

# ---- HTTP 503 with Retry-After: 2 ----
EXPORTER=otlphttp
fault_start retry-after http unavailable:2 "$HTTP_EXP"
wait_items "$WORK/$B.traces.jsonl" "$WANT" 30 || fail "retry-after: the backend has $HAVE of $WANT spans"
read_counters otlphttp
fault_stop retry-after
node "$SDK_DIR/check.mjs" --expected "$EXPECTED" --actual "$WORK/$B.traces.jsonl" ||
  fail "retry-after: the backend's spans differ from what the SDK sent"
L="$WORK/$B.requests.jsonl"
gap=$(reqlog "$L" 'Math.round(rows.find((r) => r.sha === rows[0].sha && r.seq > 1).t - rows[0].t)')
[ "$(reqlog "$L" 'rows[0].action')" = unavailable:2 ] || fail "retry-after: the first answer was not the 503"
[ "$gap" -ge 2000 ] || fail "retry-after: the retry came $gap ms after the 503 with Retry-After: 2 (initial_interval is 100ms)"
[ "$gap" -le 3500 ] || fail "retry-after: the retry came only $gap ms after the 503 with Retry-After: 2"
[ "$RETRIES" = 1 ] || fail "retry-after: pipit_exporter_retries is $RETRIES, expected 1"
[ "$SENT" = "$WANT" ] && [ "$FAILED" = 0 ] && [ "$DROPS" = 0 ] ||
  fail "retry-after: sent $SENT of $WANT, send_failed $FAILED, dropped $DROPS"
pass "retry-after: the 503's request was resent $gap ms later (Retry-After: 2, backoff 100ms); $WANT spans exact, retries 1"

# ---- permanent errors: HTTP 400 and gRPC INVALID_ARGUMENT ----
permanent_case() {
  local name=$1 kind=$2 id=$3 body=$4 msg="test backend rejects this batch: span 7 is malformed ($1)"
  local rejected reason
  EXPORTER=$id
  fault_start "$name" "$kind" "invalid:$msg" "$body"
  # A stores all but the first request; its spans are what the backend rejected.
  for ((i = 0; i < 100; i++)); do
    rejected=$(reqlog "$WORK/$B.requests.jsonl" 'rows.length ? rows[0].items : 0')
    [ "$rejected" -gt 0 ] && break
    sleep 0.1
  done
  [ "$rejected" -gt 0 ] || fail "$name: the backend saw no request in 10 s"
  wait_items "$WORK/$B.traces.jsonl" "$((WANT - rejected))" 30 ||
    fail "$name: the backend stored $HAVE spans, expected $WANT - $rejected"
  sleep 0.5 # a resend of the rejected request would come now
  read_counters "$id"
  reason=$(metric_at "$A_TELEMETRY" "pipit_dropped_items_total{component=\"exporter/$id\",reason=\"permanent_error\",signal=\"traces\"}")
  fault_stop "$name"
  cat "$WORK/$B.traces.jsonl" "$WORK/$B.aside.jsonl" >"$WORK/$name.union.jsonl"
  node "$SDK_DIR/check.mjs" --expected "$EXPECTED" --actual "$WORK/$name.union.jsonl" ||
    fail "$name: stored + rejected spans differ from what the SDK sent"
  [ "$(reqlog "$WORK/$B.requests.jsonl" 'rows.filter((r) => r.sha === rows[0].sha).length')" = 1 ] ||
    fail "$name: the rejected request was sent again"
  [ "$reason" = "$rejected" ] ||
    fail "$name: dropped{reason=permanent_error} is '$reason', the backend rejected $rejected spans"
  [ "$DROPS" = "$rejected" ] || fail "$name: $DROPS spans dropped in all, expected only the $rejected rejected"
  [ "$FAILED" = "$rejected" ] || fail "$name: send_failed_spans is $FAILED, expected $rejected"
  [ "$SENT" = "$((WANT - rejected))" ] || fail "$name: sent_spans is $SENT, expected $((WANT - rejected))"
  [ "$RETRIES" = 0 ] || fail "$name: a permanent error was retried ($RETRIES)"
  grep -F "$msg" "$WORK/$name-a.log" | grep -q permanent_error ||
    fail "$name: A's log has no permanent_error line with the server's message"
  pass "$name: $rejected spans rejected -> dropped once, counted permanent_error=$reason, logged with the server's message; $SENT of $WANT stored exactly, retries 0"
}
permanent_case http-400 http otlphttp "$HTTP_EXP"
permanent_case grpc-invalid grpc otlp "$GRPC_EXP"

# ---- the backend stalls past the exporter's timeout (2 s), then answers ----
# The backend keeps the data of the stalled request (as a real one would have
# done before its late answer) in its aside file. pipit gives up after 2 s and
# resends: at-least-once delivery. Asserted: every span stored exactly once
# among the answered requests, and the stalled request's spans arrived one
# more time (duplicates = its item count, and exactly the same body).
stall_case() {
  local name=$1 kind=$2 id=$3 body=$4 dup
  EXPORTER=$id
  fault_start "$name" "$kind" stall:4000 "$body"
  wait_items "$WORK/$B.traces.jsonl" "$WANT" 30 || fail "$name: the backend has $HAVE of $WANT spans"
  sleep 0.5
  read_counters "$id"
  fault_stop "$name"
  node "$SDK_DIR/check.mjs" --expected "$EXPECTED" --actual "$WORK/$B.traces.jsonl" ||
    fail "$name: the answered requests do not hold every span exactly once"
  dup=$(node "$SDK_DIR/check.mjs" --actual "$WORK/$B.aside.jsonl" --count-only)
  [ "$dup" = "$(reqlog "$WORK/$B.requests.jsonl" 'rows[0].items')" ] && [ "$dup" -gt 0 ] ||
    fail "$name: the stalled request held $(reqlog "$WORK/$B.requests.jsonl" 'rows[0].items') spans, aside has $dup"
  [ "$(reqlog "$WORK/$B.requests.jsonl" 'rows.filter((r) => r.sha === rows[0].sha).map((r) => r.action).join()')" = stall:4000,ok ] ||
    fail "$name: the stalled request was not resent exactly once"
  [ "$RETRIES" = 1 ] || fail "$name: pipit_exporter_retries is $RETRIES, expected 1 (the timeout)"
  [ "$SENT" = "$WANT" ] && [ "$FAILED" = 0 ] && [ "$DROPS" = 0 ] ||
    fail "$name: sent $SENT of $WANT, send_failed $FAILED, dropped $DROPS"
  pass "$name: timed out after $TIMEOUT, resent once; $WANT spans stored exactly once among acknowledged requests; at-least-once: the backend also kept the $dup spans of the abandoned attempt (duplicates, counted here, not by pipit)"
}
TIMEOUT=2s stall_case stall-grpc grpc otlp "$GRPC_EXP"
TIMEOUT=2s stall_case stall-http http otlphttp "$HTTP_EXP"

# ---- nothing listens for 30 s, then the backend comes up ----
# "Must show": a backend down for 30 s then back loses nothing, with a memory
# queue large enough (the default 1000 requests). The breaker opens after 3
# refused attempts (gauge 2, health: the exporter recoverable_error and
# "healthy": false), probes every 2 s (half-open) and closes when pipit B
# answers; then the gauge is 0 and health ok again. The SDK sends traces
# before the outage and metrics during it: the receiver keeps taking data
# while the exporter cannot send.
name=outage30
bgrpc=$(free_port); bhttp=$(free_port)
start_relay "$name-a" otlp "    endpoint: 127.0.0.1:$bgrpc
    tls:
      insecure: true
    timeout: 3s
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 2s
    circuit_breaker:
      failure_threshold: 3
      cool_down: 2s"
t_down=$(date +%s%N)
EXPECTED="$WORK/$name.expected.jsonl" EXPECTED_M="$WORK/$name.expected-metrics.jsonl"
sdk_send "$name" traces grpc "http://127.0.0.1:$A_GRPC" none "$EXPECTED" \
  --traces "$SPANS_TRACES" --spans-per-trace 20 --seed 77
WANT=$(sdk_expected_count "$EXPECTED")
health_state() {
  curl -s "http://127.0.0.1:$A_HEALTH/" | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const h = JSON.parse(s); console.log(`${h.components["exporter/otlp"]?.status ?? "absent"} healthy=${h.healthy}`); })'
}
seen_open=0 seen_half=0 seen_health="" sent_metrics=0 max_queue=0
for ((i = 0; i < 400; i++)); do
  elapsed=$((($(date +%s%N) - t_down) / 1000000))
  [ "$elapsed" -ge 30000 ] && break
  c=$(metric_at "$A_TELEMETRY" 'pipit_exporter_circuit_state{exporter="otlp"}')
  q=$(metric_at "$A_TELEMETRY" 'otelcol_exporter_queue_size{exporter="otlp"}')
  [ "${q:-0}" -gt "$max_queue" ] && max_queue=$q
  [ "$c" = 1 ] && seen_half=$((seen_half + 1))
  if [ "$c" = 2 ]; then
    seen_open=$((seen_open + 1))
    [ -n "$seen_health" ] || seen_health=$(health_state)
  fi
  if [ "$sent_metrics" = 0 ] && [ "$elapsed" -ge 10000 ]; then
    sdk_send "$name-metrics" metrics http/protobuf "http://127.0.0.1:$A_HTTP" none "$EXPECTED_M" \
      --series 20 --rounds 2 --seed 78
    sent_metrics=1
  fi
  sleep 0.25
done
[ "$sent_metrics" = 1 ] || fail "$name: the loop ended before the metrics were sent"
[ "$seen_open" -gt 0 ] || fail "$name: pipit_exporter_circuit_state never showed 2 (open) during the outage"
[ "$seen_health" = "recoverable_error healthy=false" ] ||
  fail "$name: health while the breaker was open: '$seen_health', expected recoverable_error healthy=false"
read_counters otlp
[ "$SENT" = 0 ] || fail "$name: $SENT spans counted sent while nothing listened"
[ "$DROPS" = 0 ] && [ "$FAILED" = 0 ] || fail "$name: during the outage A dropped $DROPS, failed $FAILED"
retries_down=$RETRIES
start_pipit_backend "$name-b" "$bgrpc" "$bhttp"
t_up=$(date +%s%N)
WANT_M=$(sdk_expected_count "$EXPECTED_M")
wait_items "$WORK/$name-b.traces.jsonl" "$WANT" 30 || fail "$name: pipit B has $HAVE of $WANT spans 30 s after it came up"
wait_items "$WORK/$name-b.metrics.jsonl" "$WANT_M" 30 || fail "$name: pipit B has $HAVE of $WANT_M points"
t_all=$(date +%s%N)
for ((i = 0; i < 80; i++)); do
  [ "$(metric_at "$A_TELEMETRY" 'pipit_exporter_circuit_state{exporter="otlp"}')" = 0 ] &&
    [ "$(health_state)" = "ok healthy=true" ] && break
  sleep 0.25
done
health_after=$(health_state)
read_counters otlp
sent_m=$(metric_at "$A_TELEMETRY" 'otelcol_exporter_sent_metric_points_total{exporter="otlp"}')
fault_stop "$name"
stop_pipit "$B_PID" 20
[ "$STOP_RC" = 0 ] || fail "$name: pipit B exited $STOP_RC"
node "$SDK_DIR/check.mjs" --expected "$EXPECTED" --actual "$WORK/$name-b.traces.jsonl" ||
  fail "$name: the spans pipit B stored differ from what the SDK sent"
node "$SDK_DIR/check.mjs" --expected "$EXPECTED_M" --actual "$WORK/$name-b.metrics.jsonl" ||
  fail "$name: the data points pipit B stored differ from what the SDK sent"
[ "$CIRCUIT" = 0 ] || fail "$name: the breaker did not close (state $CIRCUIT)"
[ "$health_after" = "ok healthy=true" ] || fail "$name: health after recovery: $health_after"
[ "$SENT" = "$WANT" ] && [ "$sent_m" = "$WANT_M" ] || fail "$name: sent $SENT/$WANT spans, $sent_m/$WANT_M points"
[ "$FAILED" = 0 ] && [ "$DROPS" = 0 ] || fail "$name: send_failed $FAILED, dropped $DROPS"
[ "$retries_down" -gt 0 ] || fail "$name: no retry counted during the outage"
pass "$name: down $(((t_up - t_down) / 1000000)) ms, breaker open in $seen_open samples and half-open in $seen_half, health '$seen_health' then '$health_after'; queue peaked at $max_queue requests; $retries_down retries; all $WANT spans and $WANT_M points exact $(((t_all - t_up) / 1000000)) ms after pipit B came up; nothing dropped"

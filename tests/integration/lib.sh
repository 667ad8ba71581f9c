# lib.sh -- helpers for integration tests (sourced). Every test starts what it
# needs on 127.0.0.1, and the EXIT trap stops it, whatever happens.
set -euo pipefail

: "${PIPIT_BIN:?PIPIT_BIN must point at the pipit binary (ctest sets it)}"
: "${PIPIT_SOURCE_DIR:?}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipit-it.XXXXXX")
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  if [ $rc -ne 0 ] && [ -d "$WORK" ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }; done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# A TCP port on 127.0.0.1 that is free right now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Polls a URL until it answers 200 (at most $2 seconds, default 10).
wait_http() {
  local url=$1 limit=${2:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.05
  done
  fail "$url did not answer 200 within ${limit}s"
}

# Starts pipit in the background: start_pipit NAME ARGS...; sets PIPIT_PID.
start_pipit() {
  local name=$1; shift
  "$PIPIT_BIN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIPIT_PID=$!
  PIDS+=("$PIPIT_PID")
}

# Sends SIGTERM and waits at most $2 seconds (default 5). Sets STOP_RC (the
# exit code) and STOP_MS (milliseconds from the signal to the exit).
stop_pipit() {
  local pid=$1 limit=${2:-5} start end i
  start=$(date +%s%N)
  kill -TERM "$pid"
  for ((i = 0; i < limit * 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -0 "$pid" 2>/dev/null && fail "pid $pid still running ${limit}s after SIGTERM"
  set +e; wait "$pid"; STOP_RC=$?; set -e
  end=$(date +%s%N)
  STOP_MS=$(((end - start) / 1000000))
}

# ---- OTLP requests with curl ----
TRACES_RPC=/opentelemetry.proto.collector.trace.v1.TraceService/Export

# A gRPC length-prefixed message: grpc_frame FLAG(00|01) IN OUT
grpc_frame() {
  { printf "\\x$1"; printf '%08x' "$(stat -c %s "$2")" | xxd -r -p; cat "$2"; } >"$3"
}

# POST /v1/traces (protobuf): http_post PORT FILE [CONTENT-ENCODING]. Prints
# the status (000: no answer); headers in $WORK/http.hdr, body in $WORK/http.body.
http_post() {
  local enc=()
  [ -s "$2" ] || fail "http_post: no file $2"
  [ -n "${3:-}" ] && enc=(-H "Content-Encoding: $3")
  curl -s -m 30 -D "$WORK/http.hdr" -o "$WORK/http.body" -w '%{http_code}' \
    -H 'Content-Type: application/x-protobuf' "${enc[@]}" --data-binary @"$2" \
    "http://127.0.0.1:$1/v1/traces" || true
}

# TraceService/Export over h2c: grpc_call PORT FRAMED-FILE [GRPC-ENCODING].
# Prints grpc-status from the headers or trailers ("none" if absent); both
# are kept in $WORK/grpc.hdr.
grpc_call() {
  local enc=() s
  [ -s "$2" ] || fail "grpc_call: no file $2"
  [ -n "${3:-}" ] && enc=(-H "grpc-encoding: $3")
  : >"$WORK/grpc.hdr"
  curl -s -m 30 --http2-prior-knowledge -D "$WORK/grpc.hdr" -o /dev/null \
    -H 'content-type: application/grpc' -H 'te: trailers' "${enc[@]}" \
    --data-binary @"$2" "http://127.0.0.1:$1$TRACES_RPC" || true
  s=$(tr -d '\r' <"$WORK/grpc.hdr" | sed -n 's/^grpc-status: *//p' | head -1)
  echo "${s:-none}"
}

# One sample from a /metrics page: metric PORT NAME 'LABELS' (0 when absent;
# labels in the exposition's order, which is sorted by name).
metric() {
  local v
  v=$(curl -s "http://127.0.0.1:$1/metrics" | grep -F "$2{$3} " | awk '{print $2}' | head -1)
  echo "${v:-0}"
}

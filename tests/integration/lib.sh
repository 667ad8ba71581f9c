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

# ---- end to end with the OpenTelemetry JS SDK (otlp_sdk*.test.sh) ----
# The senders in tests/integration/sdk use the exact SDK versions of
# package-lock.json; tools/install-deps.sh --test installs them.

SDK_DIR="$PIPIT_SOURCE_DIR/tests/integration/sdk"

sdk_require() {
  [ -d "$PIPIT_SOURCE_DIR/tests/integration/node_modules/@opentelemetry/sdk-trace-base" ] ||
    fail "the OpenTelemetry JS SDK is not installed: run tools/install-deps.sh --test"
}

# Starts pipit with the OTLP receiver (gRPC and HTTP on free ports), a batch
# processor and the file exporter writing to $SDK_FILE, and waits until it is
# healthy. Sets SDK_GRPC, SDK_HTTP, SDK_TELEMETRY, SDK_FILE and PIPIT_PID.
sdk_start_pipit() {
  local name=$1 health
  SDK_GRPC=$(free_port); SDK_HTTP=$(free_port); health=$(free_port); SDK_TELEMETRY=$(free_port)
  SDK_FILE="$WORK/$name-file.jsonl"
  cat >"$WORK/$name.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$SDK_GRPC
      http:
        endpoint: 127.0.0.1:$SDK_HTTP
processors:
  batch:
    timeout: 200ms
    send_batch_size: 2048
    send_batch_max_size: 4096
exporters:
  file:
    path: $SDK_FILE
extensions:
  health_check:
    endpoint: 127.0.0.1:$health
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
  telemetry:
    metrics:
      address: 127.0.0.1:$SDK_TELEMETRY
YAML
  start_pipit "$name" --config "$WORK/$name.yaml"
  wait_http "http://127.0.0.1:$health/" 20
}

# The value of one self-telemetry series ("" when absent).
sdk_metric() {
  curl -sf "http://127.0.0.1:$SDK_TELEMETRY/metrics" | awk -v s="$1" 'index($0, s " ") == 1 { print $2 }'
}

# One end-to-end case: sdk_case NAME traces|metrics PROTOCOL COMPRESSION [sender args...]
# Runs the SDK sender against a fresh pipit, waits (bounded) until the file
# holds everything, reads pipit's counters, stops pipit with SIGTERM (it must
# exit 0; with ASan a leak makes it non-zero), and compares field by field.
sdk_case() {
  local name=$1 signal=$2 proto=$3 comp=$4 endpoint want have=0 i t0 t1 what transport
  local accepted sent
  shift 4
  sdk_start_pipit "$name"
  endpoint="http://127.0.0.1:$SDK_HTTP" transport=http
  if [ "$proto" = grpc ]; then endpoint="http://127.0.0.1:$SDK_GRPC" transport=grpc; fi
  t0=$(date +%s%N)
  if ! node "$SDK_DIR/send_$signal.mjs" --protocol "$proto" --endpoint "$endpoint" \
      --compression "$comp" --out "$WORK/$name.expected.jsonl" "$@" >"$WORK/$name-sender.log" 2>&1; then
    head -c 4000 "$WORK/$name-sender.log"
    fail "$name: the SDK could not export to pipit"
  fi
  t1=$(date +%s%N)
  want=$(head -n 1 "$WORK/$name.expected.jsonl" | node -e \
    'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).count))')
  for ((i = 0; i < 120; i++)); do
    have=$(node "$SDK_DIR/check.mjs" --actual "$SDK_FILE" --count-only)
    [ "$have" -ge "$want" ] && break
    sleep 0.25
  done
  [ "$have" -ge "$want" ] || echo "# $name: the file has $have of $want items after 30 s; SIGTERM drains the rest"
  what=spans; [ "$signal" = metrics ] && what=metric_points
  accepted=$(sdk_metric "otelcol_receiver_accepted_${what}_total{receiver=\"otlp\",transport=\"$transport\"}")
  sent=$(sdk_metric "otelcol_exporter_sent_${what}_total{exporter=\"file\"}")
  stop_pipit "$PIPIT_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$name: pipit exited $STOP_RC after SIGTERM"
  node "$SDK_DIR/check.mjs" --expected "$WORK/$name.expected.jsonl" --actual "$SDK_FILE" ||
    fail "$name: what pipit delivered differs from what the SDK sent"
  [ "$accepted" = "$want" ] || fail "$name: otelcol_receiver_accepted_${what} is '$accepted', the SDK sent $want"
  [ "$sent" = "$want" ] ||
    fail "$name: otelcol_exporter_sent_${what}{exporter=file} is '$sent' before SIGTERM, expected $want"
  pass "$name: $want $what over $proto ($comp); sender $(((t1 - t0) / 1000000)) ms, pipit stopped in $STOP_MS ms"
}

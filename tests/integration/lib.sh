# lib.sh -- helpers for integration tests (sourced). Every test starts what it
# needs on 127.0.0.1, and the EXIT trap stops it, whatever happens.
# PIPIT_IT_KEEP=1 keeps the work directory (configs, logs, outputs) for a look.
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
  if [ -n "${PIPIT_IT_KEEP:-}" ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
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

# Writes a pipit config to $1: the otlp receiver on 127.0.0.1 ports $2 (gRPC)
# and $3 (HTTP), health_check on $4, telemetry on $5; $6 is the YAML of the
# processors and exporters sections, $7 and $8 the lists ("processors: [..]"
# and "exporters: [..]") of the traces and the metrics pipeline.
pipit_yaml() {
  cat >"$1" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$2
      http:
        endpoint: 127.0.0.1:$3
$6
extensions:
  health_check:
    endpoint: 127.0.0.1:$4
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      $7
    metrics:
      receivers: [otlp]
      $8
  telemetry:
    metrics:
      address: 127.0.0.1:$5
YAML
}

# Starts pipit with the OTLP receiver (gRPC and HTTP on free ports), a batch
# processor and the file exporter writing to $SDK_FILE, and waits until it is
# healthy. Sets SDK_GRPC, SDK_HTTP, SDK_TELEMETRY, SDK_FILE and PIPIT_PID.
sdk_start_pipit() {
  local name=$1 health
  SDK_GRPC=$(free_port); SDK_HTTP=$(free_port); health=$(free_port); SDK_TELEMETRY=$(free_port)
  SDK_FILE="$WORK/$name-file.jsonl"
  pipit_yaml "$WORK/$name.yaml" "$SDK_GRPC" "$SDK_HTTP" "$health" "$SDK_TELEMETRY" "processors:
  batch:
    timeout: 200ms
    send_batch_size: 2048
    send_batch_max_size: 4096
exporters:
  file:
    path: $SDK_FILE" "processors: [batch]
      exporters: [file]" "processors: [batch]
      exporters: [file]"
  start_pipit "$name" --config "$WORK/$name.yaml"
  wait_http "http://127.0.0.1:$health/" 20
}

# The value of one self-telemetry series of the pipit whose telemetry
# listens on port $1 ("" when absent): metric_at PORT 'name{labels}'.
metric_at() {
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s " ") == 1 { print $2 }'
}

# The value of one self-telemetry series of sdk_start_pipit's pipit.
sdk_metric() { metric_at "$SDK_TELEMETRY" "$1"; }

# The item count an SDK sender wrote in the header of its expected file.
sdk_expected_count() {
  head -n 1 "$1" | node -e \
    'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).count))'
}

# Runs an SDK sender: sdk_send NAME traces|metrics PROTOCOL ENDPOINT COMPRESSION
# EXPECTED_FILE [sender args...]; fails the test if the SDK could not export.
sdk_send() {
  local name=$1 signal=$2 proto=$3 endpoint=$4 comp=$5 out=$6
  shift 6
  if ! node "$SDK_DIR/send_$signal.mjs" --protocol "$proto" --endpoint "$endpoint" \
      --compression "$comp" --out "$out" "$@" >"$WORK/$name-sender.log" 2>&1; then
    head -c 4000 "$WORK/$name-sender.log"
    fail "$name: the SDK could not export to pipit"
  fi
}

# Polls until the OTLP/JSON lines file $1 holds at least $2 items, at most $3
# seconds. Sets HAVE to the count seen last; returns 1 when short.
wait_items() {
  local file=$1 want=$2 limit=$3 i
  HAVE=0
  for ((i = 0; i < limit * 4; i++)); do
    [ -f "$file" ] && HAVE=$(node "$SDK_DIR/check.mjs" --actual "$file" --count-only)
    [ "$HAVE" -ge "$want" ] && return 0
    sleep 0.25
  done
  return 1
}

# One end-to-end case: sdk_case NAME traces|metrics PROTOCOL COMPRESSION [sender args...]
# Runs the SDK sender against a fresh pipit, waits (bounded) until the file
# holds everything, reads pipit's counters, stops pipit with SIGTERM (it must
# exit 0; with ASan a leak makes it non-zero), and compares field by field.
sdk_case() {
  local name=$1 signal=$2 proto=$3 comp=$4 endpoint want t0 t1 what transport
  local accepted sent
  shift 4
  sdk_start_pipit "$name"
  endpoint="http://127.0.0.1:$SDK_HTTP" transport=http
  if [ "$proto" = grpc ]; then endpoint="http://127.0.0.1:$SDK_GRPC" transport=grpc; fi
  t0=$(date +%s%N)
  sdk_send "$name" "$signal" "$proto" "$endpoint" "$comp" "$WORK/$name.expected.jsonl" "$@"
  t1=$(date +%s%N)
  want=$(sdk_expected_count "$WORK/$name.expected.jsonl")
  wait_items "$SDK_FILE" "$want" 30 ||
    echo "# $name: the file has $HAVE of $want items after 30 s; SIGTERM drains the rest"
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

# ---- exporters (exporter_*.test.sh): SDK -> pipit A -> backend ----
# The backend is a second pipit (start_pipit_backend) or a node OTLP server
# of tests/integration/backend (start_backend). Either writes what it stored
# to $WORK/NAME.traces.jsonl and $WORK/NAME.metrics.jsonl, the shape
# sdk/check.mjs reads.

BACKEND_DIR="$PIPIT_SOURCE_DIR/tests/integration/backend"

# Waits until file $1 exists and is not empty (at most $2 seconds, default 10).
wait_file() {
  local f=$1 limit=${2:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    [ -s "$f" ] && return 0
    sleep 0.05
  done
  fail "$f did not appear within ${limit}s"
}

# The sum of every series of pipit's telemetry on port $1 whose line starts
# with $2 (a name and the start of its labels); 0 when there is none.
metric_sum_at() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v s="$2" 'index($0, s) == 1 { t += $NF } END { printf "%d\n", t }'
}

# A node OTLP backend: start_backend NAME grpc|http PORT [--script STEPS].
# Besides the two data files it writes $WORK/NAME.aside.jsonl and
# $WORK/NAME.requests.jsonl (see backend/otlp_backend.mjs). Sets BACKEND_PID.
start_backend() {
  local name=$1 kind=$2 port=$3
  shift 3
  rm -f "$WORK/$name.ready"
  node "$BACKEND_DIR/otlp_${kind}_server.mjs" --port "$port" --traces-out "$WORK/$name.traces.jsonl" \
    --metrics-out "$WORK/$name.metrics.jsonl" --aside "$WORK/$name.aside.jsonl" \
    --log "$WORK/$name.requests.jsonl" --ready "$WORK/$name.ready" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" &
  BACKEND_PID=$!
  PIDS+=("$BACKEND_PID")
  wait_file "$WORK/$name.ready" 20
}

# Pipit as a backend: start_pipit_backend NAME GRPC_PORT HTTP_PORT; the otlp
# receiver feeds two file exporters. Sets B_PID and B_TELEMETRY.
start_pipit_backend() {
  local name=$1 grpc=$2 http=$3 health
  health=$(free_port); B_TELEMETRY=$(free_port)
  pipit_yaml "$WORK/$name.yaml" "$grpc" "$http" "$health" "$B_TELEMETRY" "exporters:
  file/traces:
    path: $WORK/$name.traces.jsonl
  file/metrics:
    path: $WORK/$name.metrics.jsonl" "exporters: [file/traces]" "exporters: [file/metrics]"
  start_pipit "$name" --config "$WORK/$name.yaml"
  B_PID=$PIPIT_PID
  wait_http "http://127.0.0.1:$health/" 20
}

# The pipit under test: start_relay NAME EXPORTER_ID EXPORTER_YAML. The otlp
# receiver feeds a batch processor (send_batch_size $RELAY_BATCH, default
# 1024) and the exporter, whose YAML (its keys, indented 4 spaces) is given. Sets A_GRPC, A_HTTP, A_HEALTH, A_TELEMETRY and
# A_PID.
start_relay() {
  local name=$1 id=$2 body=$3
  A_GRPC=$(free_port); A_HTTP=$(free_port); A_HEALTH=$(free_port); A_TELEMETRY=$(free_port)
  pipit_yaml "$WORK/$name.yaml" "$A_GRPC" "$A_HTTP" "$A_HEALTH" "$A_TELEMETRY" "processors:
  batch:
    timeout: 200ms
    send_batch_size: ${RELAY_BATCH:-1024}
    send_batch_max_size: $((2 * ${RELAY_BATCH:-1024}))
exporters:
  $id:
$body" "processors: [batch]
      exporters: [$id]" "processors: [batch]
      exporters: [$id]"
  start_pipit "$name" --config "$WORK/$name.yaml"
  A_PID=$PIPIT_PID
  wait_http "http://127.0.0.1:$A_HEALTH/" 20
}

# Evaluates a JS expression over the rows of a backend's request log:
# reqlog FILE 'rows.filter((r) => r.action === "ok").length'.
reqlog() {
  node -e 'const fs = require("fs");
    const rows = fs.existsSync(process.argv[1]) ? fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map(JSON.parse) : [];
    console.log(new Function("rows", `return (${process.argv[2]});`)(rows));' "$1" "$2"
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

# ---- a real Prometheus (prometheus_rw*, spanmetrics_prometheus) ----
# prom_setup picks a free port and an empty TSDB in $WORK/prom and sets PROM
# (its URL); start_prom / stop_prom may be called again to simulate an outage
# on the same TSDB. Debian's prometheus refuses samples older than ~1-3 h, so
# tests send current timestamps.
prom_setup() {
  sdk_require
  command -v prometheus >/dev/null || fail "prometheus is not installed: run tools/install-deps.sh --test"
  command -v jq >/dev/null || fail "jq is not installed: run tools/install-deps.sh --test"
  PROM_PORT=$(free_port)
  PROM="http://127.0.0.1:$PROM_PORT"
  mkdir -p "$WORK/prom"
  printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' >"$WORK/prom.yml"
}

start_prom() {
  prometheus --web.enable-remote-write-receiver --web.listen-address="127.0.0.1:$PROM_PORT" \
    --storage.tsdb.path="$WORK/prom" --config.file="$WORK/prom.yml" >>"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  PIDS+=("$PROM_PID")
  wait_http "$PROM/-/ready" 30
}

stop_prom() {
  kill -TERM "$PROM_PID"
  local i
  for ((i = 0; i < 300; i++)); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PROM_PID" 2>/dev/null && fail "prometheus did not stop"
  wait "$PROM_PID" 2>/dev/null || true
}

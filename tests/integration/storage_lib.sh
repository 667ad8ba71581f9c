# storage_lib.sh -- helpers for storage_*.test.sh (sourced after lib.sh).
#
# The picture: the JS SDK sends traces over OTLP/gRPC to the "agent" pipit,
# whose otlp exporter has a sqlite_storage queue and sends to the "backend"
# pipit (otlp receiver -> file exporter, appending). Stopping and starting the
# backend on the same port is the outage.

BACKEND_PORT=$(free_port)
BACKEND_FILE="$WORK/backend.jsonl"
BACKEND_PID=""
STORE_DIR="$WORK/store"

backend_start() {
  local health
  health=$(free_port)
  cat >"$WORK/backend.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$BACKEND_PORT
exporters:
  file:
    path: $BACKEND_FILE
    append: true
extensions:
  health_check:
    endpoint: 127.0.0.1:$health
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
  telemetry:
    metrics:
      address: 127.0.0.1:$(free_port)
YAML
  start_pipit backend --config "$WORK/backend.yaml"
  BACKEND_PID=$PIPIT_PID
  wait_http "http://127.0.0.1:$health/" 20
}

backend_stop() {
  [ -n "$BACKEND_PID" ] || return 0
  stop_pipit "$BACKEND_PID" 20
  [ "$STOP_RC" = 0 ] || fail "backend exited $STOP_RC"
  BACKEND_PID=""
}

# agent_start NAME DURABILITY [extra storage keys as YAML lines, indented 4]
# Sets AGENT_PID, AGENT_GRPC, AGENT_TELEMETRY, AGENT_HEALTH. The ports stay
# the same across restarts of one test.
AGENT_GRPC=$(free_port)
AGENT_TELEMETRY=$(free_port)
AGENT_HEALTH=$(free_port)
agent_start() {
  local name=$1 durability=$2 extra=${3:-}
  cat >"$WORK/agent.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$AGENT_GRPC
exporters:
  otlp:
    endpoint: 127.0.0.1:$BACKEND_PORT
    tls: {insecure: true}
    timeout: 2s
    sending_queue:
      storage: file_storage
      durability: $durability
      num_consumers: ${AGENT_CONSUMERS:-4}
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
      max_elapsed_time: 1s
    circuit_breaker:
      failure_threshold: 3
      cool_down: 200ms
extensions:
  health_check:
    endpoint: 127.0.0.1:$AGENT_HEALTH
  file_storage:
    directory: $STORE_DIR
$extra
service:
  extensions: [health_check, file_storage]
  shutdown_timeout: 2s
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
  telemetry:
    metrics:
      address: 127.0.0.1:$AGENT_TELEMETRY
YAML
  start_pipit "$name" --config "$WORK/agent.yaml"
  AGENT_PID=$PIPIT_PID
  wait_http "http://127.0.0.1:$AGENT_HEALTH/" 20
}

# One agent self-telemetry value, summed over the series whose line starts
# with $1 ("" -> 0).
agent_metric() {
  curl -sf "http://127.0.0.1:$AGENT_TELEMETRY/metrics" |
    awk -v s="$1" 'index($0, s) == 1 { t += $NF } END { printf "%d\n", t }'
}

# send_spans NAME TRACES [sender args]: the SDK sends TRACES x 20 spans to the
# agent; the expected spans go to $WORK/NAME.expected.jsonl. Sets SENT.
send_spans() {
  local name=$1 traces=$2
  shift 2
  node "$SDK_DIR/send_traces.mjs" --protocol grpc --endpoint "http://127.0.0.1:$AGENT_GRPC" \
    --traces "$traces" --spans-per-trace 20 --seed "$traces" --out "$WORK/$name.expected.jsonl" \
    "$@" >"$WORK/$name-sender.log" 2>&1 || {
    head -c 3000 "$WORK/$name-sender.log"
    fail "$name: the SDK could not export to the agent"
  }
  SENT=$((traces * 20))
}

delivered() {
  if [ -f "$BACKEND_FILE" ]; then node "$SDK_DIR/check.mjs" --actual "$BACKEND_FILE" --count-only
  else echo 0; fi
}

# wait_delivered N SECONDS: until the backend file holds N spans.
wait_delivered() {
  local want=$1 limit=$2 i have=0
  for ((i = 0; i < limit * 4; i++)); do
    have=$(delivered)
    [ "$have" -ge "$want" ] && return 0
    sleep 0.25
  done
  fail "the backend has $have of $want spans after ${limit}s"
}

# wait_stored N SECONDS: until the agent's disk queue holds spilled items >= N.
wait_spilled() {
  local want=$1 limit=$2 i have=0
  for ((i = 0; i < limit * 4; i++)); do
    have=$(agent_metric "pipit_storage_spilled_items_total{")
    [ "$have" -ge "$want" ] && return 0
    sleep 0.25
  done
  fail "the agent spilled $have of $want items after ${limit}s"
}

check_exact() {
  node "$SDK_DIR/check.mjs" --expected "$WORK/$1.expected.jsonl" --actual "$BACKEND_FILE" ||
    fail "$1: what the backend received differs from what the SDK sent"
}

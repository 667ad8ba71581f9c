#!/usr/bin/env bash
# tools/bench/callgrind.sh -- repeatable instruction counts per span.
#
# The floor: callgrind counts only floor_loop (decode + re-encode). pipit:
# the S0 pipeline (gRPC -> batch -> debug), or with SCENARIO=S1 gRPC -> batch
# -> otlp exporter -> `pipit-loadgen sink`, under callgrind, once idle and once
# with N requests of 100 spans sent closed-loop, for the same wall time; the
# difference divided by the spans is pipit's instructions per span (the idle
# run removes start-up, shutdown and timers). Prints markdown lines and leaves
# the profiles in $CG_DIR (default build/release/callgrind) for
# callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/release}
N=${N:-300}
SCENARIO=${SCENARIO:-S0}
CG_DIR=${CG_DIR:-$BUILD/callgrind}
mkdir -p "$CG_DIR"
LG=$BUILD/tools/loadgen/pipit-loadgen
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
total() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

valgrind --tool=callgrind --callgrind-out-file="$CG_DIR/floor.out" --toggle-collect=floor_loop \
  "$BUILD/tools/bench/pipit-bench-floor" --iterations 2000 --variant arena >/dev/null 2>"$CG_DIR/floor.log"
FLOOR_IR=$(( $(total "$CG_DIR/floor.out") / ((2000 + 64) * 100) )) # + the warm-up pass

SINK_PID=
if [ "$SCENARIO" = S1 ]; then
  "$LG" sink --grpc 127.0.0.1:0 --http 127.0.0.1:0 --stats 127.0.0.1:0 >"$CG_DIR/sink.out" 2>"$CG_DIR/sink.log" &
  SINK_PID=$!
  trap 'kill -TERM "$SINK_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -s "$CG_DIR/sink.out" ] && break; sleep 0.05; done
  EXPORTER="otlp: {endpoint: \"127.0.0.1:$(head -n1 "$CG_DIR/sink.out" | jq .grpc_port)\", tls: {insecure: true}, compression: none}"
  USE=otlp
else
  EXPORTER="debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000}"
  USE=debug
fi

# run_pipit NAME REQUESTS SECONDS
run_pipit() {
  local name=$1 n=$2 secs=$3 grpc metrics pid
  grpc=$(free_port); metrics=$(free_port)
  cat >"$CG_DIR/pipit.yaml" <<YAML
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:$grpc"}}}
processors: {batch: {}}
exporters: {$EXPORTER}
service:
  pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [$USE]}}
  telemetry: {metrics: {address: "127.0.0.1:$metrics"}}
YAML
  valgrind --tool=callgrind --callgrind-out-file="$CG_DIR/$name.out" \
    "$BUILD/pipit" --config "$CG_DIR/pipit.yaml" --log-level warn >/dev/null 2>"$CG_DIR/$name.log" &
  pid=$!
  for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$metrics/metrics" && break; sleep 0.1; done
  # Receivers start after the telemetry endpoint: wait for the gRPC port too.
  for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null && break; sleep 0.1; done
  local t0=$SECONDS
  if [ "$n" -gt 0 ]; then
    "$LG" --endpoint "127.0.0.1:$grpc" --count "$n" --connections 1 --streams 4 --quiet --timeout 60000 >"$CG_DIR/$name.json"
  fi
  local left=$((secs - (SECONDS - t0)))
  [ "$left" -gt 0 ] && sleep "$left"
  WALL=$((SECONDS - t0))
  kill -TERM "$pid"; wait "$pid" || true
}
run_pipit load "$N" 0
LOAD_WALL=$WALL
run_pipit idle 0 "$LOAD_WALL"
SPANS=$(jq .spans.acked "$CG_DIR/load.json")
PIPIT_IR=$(( ($(total "$CG_DIR/load.out") - $(total "$CG_DIR/idle.out")) / SPANS ))
echo
echo "Instructions per span (callgrind, $N requests x 100 spans, $SCENARIO pipeline): pipit $PIPIT_IR, floor $FLOOR_IR (decode + re-encode), ratio $(echo "scale=2; $PIPIT_IR / $FLOOR_IR" | bc)."

# tools/bench/lib.sh -- what the benchmark scripts share: a work directory
# whose processes are stopped at exit, ports, /proc readings, the sink.
# Source it after setting LG (the pipit-loadgen binary); WORK_PREFIX names
# the temporary directory.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/${WORK_PREFIX:-pipit-bench}.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.2
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
stop() { kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }

# start_sink [GRPC-PORT]: free ports, or that gRPC port (S5 reserves it).
start_sink() {
  "$LG" sink --grpc "127.0.0.1:${1:-0}" --http 127.0.0.1:0 --stats 127.0.0.1:0 --prw 127.0.0.1:0 \
    >"$WORK/sink.out" 2>"$WORK/sink.log" &
  SINK_PID=$!; PIDS+=("$SINK_PID")
  for _ in $(seq 100); do [ -s "$WORK/sink.out" ] && break; sleep 0.05; done
  SINK_GRPC=$(head -n1 "$WORK/sink.out" | jq .grpc_port)
  SINK_HTTP=$(head -n1 "$WORK/sink.out" | jq .http_port)
  SINK_STATS=$(head -n1 "$WORK/sink.out" | jq .stats_port)
  SINK_PRW=$(head -n1 "$WORK/sink.out" | jq .prw_port)
  [ "${SINK_GRPC:-0}" -gt 0 ] || { echo "sink did not start:" >&2; cat "$WORK/sink.log" >&2; exit 1; }
}
sink_counts() { curl -sf "http://127.0.0.1:$SINK_STATS/counts"; }

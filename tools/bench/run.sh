#!/usr/bin/env bash
# tools/bench/run.sh -- pipit's benchmark harness. Builds Release, then runs
# pipit, pipit-loadgen and `pipit-loadgen sink` as whole processes on
# 127.0.0.1 and prints a markdown table (also written to $OUT, default
# build/release/bench.md, for docs/BENCHMARKS.md).
#
#   S0 OTLP/gRPC -> batch -> debug exporter (basic, sampled logging)
#   S1 OTLP/gRPC -> batch -> otlp exporter -> sink (gRPC)
#   S2 OTLP/HTTP protobuf -> batch -> otlphttp exporter -> sink (HTTP)
#   S3 OTLP/gRPC metrics -> batch -> prometheusremotewrite -> sink (remote write)
#   S4 S1 with tail_sampling in front of batch
#   S5 S1 with the sink down: spill to SQLite (file_storage), then replay when
#      the sink starts (tools/bench/spill_replay.sh)
#
# Per scenario: spans/s (S3: data points/s) at saturation (closed loop), pipit
# CPU-seconds per million spans (utime+stime from /proc/<pid>/stat), peak RSS (VmHWM), p99
# latency at half of saturation minus the p99 of the same load sent straight
# to the sink ("added"), and at a fixed 10 000 spans/s pipit's CPU % of one
# core and RSS. Then the floor (tools/bench/floor.c) and pipit's cost per span
# as a multiple of it.
#
# Options (environment): DUR=seconds per measurement (default 10),
# CONNS/STREAMS for the saturating client (default 4 x 8), ONLY="S0 S1",
# CALLGRIND=1 to add instruction counts (slow: valgrind), OUT=file,
# REPLAY_LIMIT=seconds S5 waits for the replay (default 300).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${DUR:-10}
CONNS=${CONNS:-4}
STREAMS=${STREAMS:-8}
ONLY=${ONLY:-S0 S1 S2 S3 S4 S5}
BUILD=$ROOT/build/release
OUT=${OUT:-$BUILD/bench.md}

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
PIPIT=$BUILD/pipit
LG=$BUILD/tools/loadgen/pipit-loadgen
FLOOR=$BUILD/tools/bench/pipit-bench-floor
TICK=$(getconf CLK_TCK)

WORK_PREFIX=pipit-bench
# shellcheck source=tools/bench/lib.sh
. "$ROOT/tools/bench/lib.sh"

# pipit_config SCENARIO -> YAML on stdout (uses $GRPC $HTTP $METRICS $SINK_*).
pipit_config() {
  local exporter processors="[batch]" signal=traces
  case $1 in
    S0) exporter="debug" ;;
    S1) exporter="otlp/sink" ;;
    S2) exporter="otlphttp/sink" ;;
    S3) exporter="prometheusremotewrite/sink"; signal=metrics ;;
    S4) exporter="otlp/sink"; processors="[tail_sampling, batch]" ;;
    S5) spill_config; return ;;
  esac
  cat <<YAML
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:$GRPC"}
      http: {endpoint: "127.0.0.1:$HTTP"}
processors:
  batch:
  tail_sampling:
    decision_wait: 2s
    policies:
      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
      - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 10}}
exporters:
  debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000}
  otlp/sink: {endpoint: "127.0.0.1:$SINK_GRPC", tls: {insecure: true}, compression: none}
  otlphttp/sink: {endpoint: "http://127.0.0.1:$SINK_HTTP", compression: none}
  prometheusremotewrite/sink: {endpoint: "http://127.0.0.1:$SINK_PRW/api/v1/write"}
service:
  pipelines:
    $signal: {receivers: [otlp], processors: $processors, exporters: [$exporter]}
  telemetry:
    metrics: {address: "127.0.0.1:$METRICS"}
YAML
}

start_pipit() {
  GRPC=$(free_port); HTTP=$(free_port); METRICS=$(free_port)
  pipit_config "$1" >"$WORK/pipit.yaml"
  "$PIPIT" --config "$WORK/pipit.yaml" --log-level warn >"$WORK/pipit.out" 2>"$WORK/pipit.log" &
  PIPIT_PID=$!; PIDS+=("$PIPIT_PID")
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$METRICS/metrics" && return 0; sleep 0.05; done
  echo "pipit did not start:" >&2; cat "$WORK/pipit.log" >&2; exit 1
}

# loadgen SCENARIO ENDPOINT-PORT EXTRA-ARGS... -> JSON summary on stdout
loadgen() {
  local sc=$1 port=$2; shift 2
  local proto=grpc
  [ "$sc" = S2 ] && proto=http/protobuf
  # S3: 100 points a request over 1000 series (50 names x 20 attribute sets;
  # counters, gauges, histograms 60/30/10, cumulative): loadgen's defaults.
  [ "$sc" = S3 ] && set -- --signal metrics --series 1000 --batch 100 "$@"
  "$LG" --protocol "$proto" --endpoint "127.0.0.1:$port" --quiet --timeout 30000 "$@"
}

# Runs one load against pipit; sets CPU_S (pipit CPU seconds) and RES (JSON).
measure() {
  local sc=$1 port=$2; shift 2
  local t0; t0=$(cpu_ticks "$PIPIT_PID")
  RES=$(loadgen "$sc" "$port" "$@")
  CPU_S=$(echo "scale=4; ($(cpu_ticks "$PIPIT_PID") - $t0) / $TICK" | bc)
}

# pipit_metric NAME: pipit's self-telemetry counter or gauge, summed over its series.
pipit_metric() {
  curl -sf "http://127.0.0.1:$METRICS/metrics" |
    awk -v m="$1" 'index($0, m "{") == 1 || index($0, m " ") == 1 {s += $NF} END {printf "%.0f\n", s}'
}

# S3, before pipit stops: waits (up to 10 s) until pipit has exported every
# point it accepted; sets PRW_PIPIT (pipit's counts) and PRW_SENT (samples
# pipit counts as delivered).
prw_settle() {
  local acc sent
  for _ in $(seq 100); do
    acc=$(pipit_metric otelcol_receiver_accepted_metric_points_total)
    sent=$(pipit_metric otelcol_exporter_sent_metric_points_total)
    [ "$sent" -ge "$acc" ] && break
    sleep 0.1
  done
  PRW_SENT=$(pipit_metric pipit_prw_samples_sent_total)
  PRW_POINTS=$sent
  PRW_PIPIT="pipit accepted $acc points and exported $sent as $PRW_SENT samples in $(pipit_metric pipit_prw_series_sent_total) series ($(pipit_metric pipit_dropped_items_total) items dropped)"
}

# S3, after: the sink holds every sample pipit counts as delivered (more only
# if a request was retried after an answer got lost); counts to the raw log.
prw_delivery_check() {
  local got; got=$(jq .prw.samples <<<"$1")
  echo "S3: $PRW_PIPIT; the sink took $(jq -c .prw <<<"$1") by remote write" >>"$WORK/raw.log"
  if [ "$got" -eq 0 ] || [ "$got" -lt "$PRW_SENT" ]; then
    echo "S3: DELIVERY FAILED: the sink has $got samples, pipit sent $PRW_SENT" >>"$WORK/raw.log"
    UNDELIVERED=1
  fi
  echo "S3 counts OTLP data points where the header says spans (points/s, CPU-s per M points, 10 000 points/s): loadgen's requests of 100 points over 1 000 series (counters, gauges, histograms), $(echo "scale=2; $got / ($PRW_POINTS + 0.001)" | bc) remote-write samples per point here. x floor \"-\": the floor decodes and re-encodes spans. The \"direct\" p99 is the same load sent to the sink's OTLP/gRPC receiver (loadgen does not speak remote write)." >>"$WORK/notes.md"
}

row() { printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@" | tee -a "$OUT"; }
fmt() { printf "%.${2:-0}f" "$1"; }

FLOOR_JSON=$("$FLOOR" --iterations 20000)
FLOOR_NS=$(jq .arena.ns_per_span <<<"$FLOOR_JSON")

{
  echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u '+%Y-%m-%d %H:%M UTC'); DUR=${DUR}s, saturation client ${CONNS}x${STREAMS}"
  echo
  echo "| scenario | spans/s at saturation | CPU-s per M spans | x floor | peak RSS MiB | p99 ms at half sat. (direct) | added p99 ms | CPU % at 10k spans/s | RSS MiB at 10k/s |"
  echo "|---|---|---|---|---|---|---|---|---|"
} | tee "$OUT"

# Lines printed under the table (footnotes, S5's replay), and whether a
# delivery check failed (the exit status then says so, after the table).
: >"$WORK/notes.md"
UNDELIVERED=0
source "$ROOT/tools/bench/spill_replay.sh"

for sc in $ONLY; do
  case $sc in
    S5) run_s5; continue ;;
  esac
  unit=spans; [ "$sc" = S3 ] && unit=points
  start_sink
  start_pipit "$sc"
  port=$GRPC; [ "$sc" = S2 ] && port=$HTTP
  loadgen "$sc" "$port" --duration 1 --rate 10000 >/dev/null # warm-up
  # Saturation: closed loop.
  measure "$sc" "$port" --duration "$DUR" --connections "$CONNS" --streams "$STREAMS"
  SAT=$(jq ".achieved.${unit}_per_s" <<<"$RES")
  ACKED=$(jq ".$unit.acked" <<<"$RES")
  CPU_PER_M=$(echo "scale=4; $CPU_S / ($ACKED / 1000000)" | bc)
  RATIO=$(echo "scale=2; $CPU_PER_M * 1000 / $FLOOR_NS" | bc)
  [ "$sc" = S3 ] && RATIO="-" # the floor decodes and re-encodes spans
  echo "$sc saturation: $RES" >>"$WORK/raw.log"
  # Half of saturation, open loop: through pipit, then straight to the sink.
  HALF=$(fmt "$(echo "$SAT / 2" | bc -l)")
  measure "$sc" "$port" --duration "$DUR" --rate "$HALF" --connections "$CONNS" --streams "$STREAMS"
  P99=$(jq .latency_ms.p99 <<<"$RES")
  sport=$SINK_GRPC; [ "$sc" = S2 ] && sport=$SINK_HTTP
  DIRECT=$(loadgen "$sc" "$sport" --duration "$DUR" --rate "$HALF" --connections "$CONNS" --streams "$STREAMS" | jq .latency_ms.p99)
  # Fixed 10 000 spans/s.
  measure "$sc" "$port" --duration "$DUR" --rate 10000 --connections 1 --streams 4
  CPU10=$(echo "scale=2; $CPU_S * 100 / $DUR" | bc)
  RSS10=$(( $(status_kb "$PIPIT_PID" VmRSS) / 1024 ))
  HWM=$(( $(status_kb "$PIPIT_PID" VmHWM) / 1024 ))
  [ "$sc" = S3 ] && prw_settle
  stop "$PIPIT_PID"
  sleep 0.5
  SINK_JSON=$(sink_counts)
  SINK_SPANS=$(jq .spans <<<"$SINK_JSON")
  stop "$SINK_PID"
  row "$sc" "$(fmt "$SAT")" "$(fmt "$CPU_PER_M" 2)" "$RATIO" "$HWM" "$(fmt "$P99" 2) ($(fmt "$DIRECT" 2))" \
      "$(fmt "$(echo "$P99 - $DIRECT" | bc -l)" 2)" "$CPU10" "$RSS10"
  if [ "$sc" = S3 ]; then
    prw_delivery_check "$SINK_JSON"
  else
    echo "$sc: sink received $SINK_SPANS spans in total" >>"$WORK/raw.log"
  fi
done

if [ -s "$WORK/notes.md" ]; then echo; cat "$WORK/notes.md"; fi | tee -a "$OUT"

{
  echo
  echo "Floor (decode + re-encode with protobuf-c, one core, no network): $(fmt "$(jq .arena.spans_per_s_per_core <<<"$FLOOR_JSON")") spans/s with pipit's arena ($(jq .arena.ns_per_span <<<"$FLOOR_JSON") ns/span), $(fmt "$(jq .malloc.spans_per_s_per_core <<<"$FLOOR_JSON")") spans/s with malloc; $(jq .bytes_per_span <<<"$FLOOR_JSON") bytes per span on the wire."
  echo
  sed 's/^/    /' "$WORK/raw.log"
} | tee -a "$OUT"

if [ "${CALLGRIND:-0}" = 1 ]; then
  "$ROOT/tools/bench/callgrind.sh" | tee -a "$OUT"
fi
if [ "$UNDELIVERED" != 0 ]; then
  echo "run.sh: a delivery check failed (see the raw log above)" >&2
  exit 1
fi

#!/usr/bin/env bash
# tools/bench/steady.sh -- pipit's cost at rest and at a steady 10 000 spans/s
# (run.sh's "10k" column, alone and repeatable). Per scenario and round:
#
#   idle  pipit started, no load for IDLE seconds: CPU %, RSS, context switches
#   10k   open loop 10 000 spans/s (100 requests/s of 100 spans, 1 connection x
#         4 streams) for DUR seconds: CPU % of one core, RSS at the end,
#         context switches per second
#   after_sat (SAT=1) the 10k run again after SAT_DUR seconds of saturation
#         (4 x 8 closed loop), which is the order run.sh measures in
#
# Prints one JSON line per measurement and then the medians per scenario.
# Options (environment): ONLY="S0 S1", ROUNDS=3, DUR=8, IDLE=10, SAT=0|1,
# SAT_DUR=4, RATE=10000, PIPIT=binary (default build/release/pipit).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ONLY=${ONLY:-S0 S1}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-8}
IDLE=${IDLE:-10}
SAT=${SAT:-0}
SAT_DUR=${SAT_DUR:-4}
RATE=${RATE:-10000}
BUILD=$ROOT/build/release
if [ -z "${PIPIT:-}" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
  PIPIT=$BUILD/pipit
fi
LG=$BUILD/tools/loadgen/pipit-loadgen
TICK=$(getconf CLK_TCK)

WORK_PREFIX=pipit-steady
# shellcheck source=tools/bench/lib.sh
. "$ROOT/tools/bench/lib.sh"
rss_kb() { status_kb "$1" VmRSS; }
threads() { awk '$1 == "Threads:" {print $2}' "/proc/$1/status"; }
# Context switches of all of pipit's threads (voluntary + involuntary).
ctxsw() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }

start_pipit() {
  local exporter=debug
  [ "$1" = S1 ] && exporter=otlp/sink
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
  debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000}
  otlp/sink: {endpoint: "127.0.0.1:$SINK_GRPC", tls: {insecure: true}, compression: none}
service:
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [$exporter]}
  telemetry:
    metrics: {address: "127.0.0.1:$METRICS"}
YAML
  "$PIPIT" --config "$WORK/pipit.yaml" --log-level warn >"$WORK/pipit.out" 2>"$WORK/pipit.log" &
  PIPIT_PID=$!; PIDS+=("$PIPIT_PID")
  for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$METRICS/metrics" && return 0; sleep 0.05; done
  echo "pipit did not start:" >&2; cat "$WORK/pipit.log" >&2; exit 1
}

# window SECONDS COMMAND... -> sets CPU_PCT, CSW_PER_S over the command (or a sleep)
window() {
  local secs=$1; shift
  local t0 c0 w0 w1
  t0=$(cpu_ticks "$PIPIT_PID"); c0=$(ctxsw "$PIPIT_PID"); w0=$(date +%s.%N)
  "$@"
  w1=$(date +%s.%N)
  CPU_PCT=$(echo "scale=3; ($(cpu_ticks "$PIPIT_PID") - $t0) * 100 / $TICK / ($w1 - $w0)" | bc)
  CSW_PER_S=$(echo "scale=1; ($(ctxsw "$PIPIT_PID") - $c0) / ($w1 - $w0)" | bc)
}

load() { "$LG" --protocol grpc --endpoint "127.0.0.1:$GRPC" --quiet --timeout 30000 "$@" >"$WORK/lg.json"; }

emit() { # scenario phase
  local r; r=$(rss_kb "$PIPIT_PID")
  printf '{"scenario":"%s","phase":"%s","cpu_pct":%s,"rss_mib":%s,"csw_per_s":%s,"threads":%s}\n' \
    "$1" "$2" "$CPU_PCT" "$(echo "scale=1; $r / 1024" | bc)" "$CSW_PER_S" "$(threads "$PIPIT_PID")" | tee -a "$WORK/all.jsonl"
}

for round in $(seq "$ROUNDS"); do
  for sc in $ONLY; do
    start_sink
    start_pipit "$sc"
    sleep 1
    window "$IDLE" sleep "$IDLE"; emit "$sc" idle
    load --duration 1 --rate "$RATE" # warm-up
    window "$DUR" load --duration "$DUR" --rate "$RATE" --connections 1 --streams 4; emit "$sc" 10k
    if [ "$SAT" = 1 ]; then
      load --duration "$SAT_DUR" --connections 4 --streams 8
      window "$DUR" load --duration "$DUR" --rate "$RATE" --connections 1 --streams 4; emit "$sc" after_sat
    fi
    stop "$PIPIT_PID"; stop "$SINK_PID"
  done
done

echo "medians of $ROUNDS rounds:"
jq -s -c 'group_by(.scenario + " " + .phase)[] | {scenario: .[0].scenario, phase: .[0].phase,
  cpu_pct: (map(.cpu_pct) | sort | .[length/2|floor]), rss_mib: (map(.rss_mib) | sort | .[length/2|floor]),
  csw_per_s: (map(.csw_per_s) | sort | .[length/2|floor]), threads: .[0].threads}' "$WORK/all.jsonl"

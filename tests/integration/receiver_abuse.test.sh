#!/usr/bin/env bash
# The otlp receiver under abuse, with the real pipit process:
#  (a) 1 GiB compression bombs (gzip and zstd, on HTTP and gRPC) are refused
#      with 413 / RESOURCE_EXHAUSTED, and the Release binary's peak RSS
#      (VmHWM) stays under 64 MiB. The RSS bound is measured on
#      $PIPIT_RELEASE_BIN (ASan's shadow memory and quarantine would make the
#      number meaningless); the sanitizer binary gets the same bombs for its
#      reports, without the bound.
#  (b) garbage on both ports (random bytes, HTTP/1.1 to the gRPC port, the
#      HTTP/2 preface to the HTTP port, silent connections, 200 connections at
#      once) is answered with an error or closed; afterwards health is 200 and
#      real exports on both protocols succeed, counted exactly.
#  (c) slow-loris clients (one byte a second) are cut off by the header / preface
#      timeouts while other clients are served without delay.
source "$(dirname "$0")/lib.sh"

NA=(/usr/bin/python3 "$(dirname "$0")/netabuse.py")
RSS_LIMIT_KB=$((64 * 1024))

: "${PIPIT_RELEASE_BIN:?PIPIT_RELEASE_BIN must name the Release pipit (ctest sets it)}"
[ -x "$PIPIT_RELEASE_BIN" ] || fail "no Release binary at $PIPIT_RELEASE_BIN: build it first
  (cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPIPIT_TESTS=OFF && cmake --build build/release;
  tools/check.sh does this before ctest). The 64 MiB RSS bound is only meaningful without ASan."

# ---- inputs ----
# 1 GiB of zeros, compressed while streaming (nothing that size touches disk).
/usr/bin/python3 - "$WORK/bomb.gz" <<'PY'
import sys, zlib
c = zlib.compressobj(9, zlib.DEFLATED, 31)
zeros = bytes(1 << 20)
with open(sys.argv[1], "wb") as f:
    for _ in range(1024):
        f.write(c.compress(zeros))
    f.write(c.flush())
PY
head -c 1G /dev/zero | zstd -q -c >"$WORK/bomb.zst"                             # no content size
head -c 1G /dev/zero | zstd -q -c --stream-size=1073741824 >"$WORK/bomb-sized.zst" # declares 1 GiB
"${NA[@]}" spans 10 >"$WORK/spans.pb"

grpc_frame 01 "$WORK/bomb.gz" "$WORK/bomb.gz.grpc"
grpc_frame 01 "$WORK/bomb.zst" "$WORK/bomb.zst.grpc"
grpc_frame 01 "$WORK/bomb-sized.zst" "$WORK/bomb-sized.zst.grpc"
grpc_frame 00 "$WORK/spans.pb" "$WORK/spans.grpc"
echo "bombs: gzip $(stat -c %s "$WORK/bomb.gz") B, zstd $(stat -c %s "$WORK/bomb.zst") B, each 1 GiB inflated"

# ---- helpers ----
config() { # writes $WORK/abuse.yaml with fresh ports GP HP HC MP
  GP=$(free_port) HP=$(free_port) HC=$(free_port) MP=$(free_port)
  cat >"$WORK/abuse.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:$GP}
      http: {endpoint: 127.0.0.1:$HP, read_header_timeout: 2s}
exporters: {debug: {verbosity: basic}}
extensions: {health_check: {endpoint: 127.0.0.1:$HC}}
service:
  extensions: [health_check]
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
  telemetry: {metrics: {address: 127.0.0.1:$MP}}
YAML
}

hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PIPIT_PID/status"; }

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

accepted() { metric "$MP" otelcol_receiver_accepted_spans_total "receiver=\"otlp\",transport=\"$1\""; }

# Sends every bomb; checks the refusals; prints timings (and VmHWM if $1 = rss).
send_bombs() {
  local t code
  for enc in gzip zstd; do
    local file=$WORK/bomb.gz
    [ "$enc" = zstd ] && file=$WORK/bomb.zst
    t=$(date +%s%N)
    code=$(http_post "$HP" "$file" "$enc")
    [ "$code" = 413 ] || fail "HTTP $enc bomb: status $code, want 413 ($(head -c 200 "$WORK/http.body"))"
    echo "  HTTP $enc bomb: 413 in $(ms_since "$t") ms${1:+, VmHWM $(hwm_kb) kB}"
  done
  for b in bomb.zst bomb-sized.zst bomb.gz; do
    local enc=zstd
    [ "$b" = bomb.gz ] && enc=gzip
    t=$(date +%s%N)
    code=$(grpc_call "$GP" "$WORK/$b.grpc" "$enc")
    [ "$code" = 8 ] || fail "gRPC $b: grpc-status $code, want 8 (RESOURCE_EXHAUSTED)"
    echo "  gRPC $b: RESOURCE_EXHAUSTED in $(ms_since "$t") ms${1:+, VmHWM $(hwm_kb) kB}"
  done
}

# Real exports on both protocols must work, and be counted exactly.
exports_work() {
  local g0 h0 code
  g0=$(accepted grpc) h0=$(accepted http)
  code=$(grpc_call "$GP" "$WORK/spans.grpc")
  [ "$code" = 0 ] || fail "gRPC export after $1: grpc-status $code"
  code=$(http_post "$HP" "$WORK/spans.pb")
  [ "$code" = 200 ] || fail "HTTP export after $1: status $code"
  [ "$(accepted grpc)" = $((g0 + 10)) ] || fail "gRPC accepted $(accepted grpc), want $((g0 + 10))"
  [ "$(accepted http)" = $((h0 + 10)) ] || fail "HTTP accepted $(accepted http), want $((h0 + 10))"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HC/")" = 200 ] ||
    fail "health is not 200 after $1"
}

# ---- (a) bombs and peak RSS, Release binary ----
config
PIPIT_BIN=$PIPIT_RELEASE_BIN start_pipit release --config "$WORK/abuse.yaml"
wait_http "http://127.0.0.1:$HC/" 20
exports_work "start-up"
base=$(hwm_kb)
echo "Release pipit: VmHWM $base kB after start-up and one export per protocol"
# Three rounds, one connection per bomb: connections land on different
# worker threads, and memory one thread freed must not stay with it.
for round in 1 2 3; do
  echo " round $round"
  send_bombs rss
done
peak=$(hwm_kb)
rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PIPIT_PID/status")
[ "$peak" -lt "$RSS_LIMIT_KB" ] || fail "peak RSS $peak kB >= $RSS_LIMIT_KB kB"
[ "$rss" -lt $((base + 16 * 1024)) ] ||
  fail "RSS $rss kB after the bombs: the buffers were freed but not given back (start: $base kB)"
exports_work "the bombs"
pass "1 GiB bombs refused (413 / RESOURCE_EXHAUSTED); Release peak RSS $peak kB < $RSS_LIMIT_KB kB, $rss kB after"
stop_pipit "$PIPIT_PID" 5
[ "$STOP_RC" = 0 ] || fail "Release pipit exit code $STOP_RC"

# ---- the rest with the sanitizer binary ----
config
start_pipit asan --config "$WORK/abuse.yaml"
wait_http "http://127.0.0.1:$HC/" 20
send_bombs
exports_work "the bombs"
pass "bombs refused by the sanitizer build too"

# ---- (b) garbage ----
for kind in random http1; do
  out=$("${NA[@]}" garbage "$GP" "$kind" 5) || fail "gRPC port kept a connection open after $kind: $out"
  echo "  gRPC port, $out"
  grep -q "answer=GOAWAY code=1 " <<<"$out" || fail "gRPC port: no GOAWAY PROTOCOL_ERROR for $kind: $out"
done
for kind in random http1 h2preface; do
  out=$("${NA[@]}" garbage "$HP" "$kind" 5) || fail "HTTP port kept a connection open after $kind: $out"
  echo "  HTTP port, $out"
  # Random bytes may hold no line end at all: MHD then just closes, which is fine.
  [ "$kind" = random ] || grep -q "answer=HTTP/1.1 [45]" <<<"$out" ||
    fail "HTTP port: no 4xx/5xx for $kind: $out"
done
exports_work "garbage"
pass "garbage on both ports: errors (GOAWAY, 4xx/5xx) and closed connections"

# Silent connections (closed by the header timeout, 2 s here, and the HTTP/2
# preface timeout, 10 s) while 200 connections per port arrive at once.
"${NA[@]}" idle "$HP" 4 >"$WORK/idle-http.out" 2>&1 & idle_http=$!
"${NA[@]}" idle "$GP" 13 >"$WORK/idle-grpc.out" 2>&1 & idle_grpc=$!
out=$("${NA[@]}" flood "$GP" 200 15) || fail "gRPC flood: $out"
echo "  gRPC port, $out"
out=$("${NA[@]}" flood "$HP" 200 15) || fail "HTTP flood: $out"
echo "  HTTP port, $out"
exports_work "the floods"
wait "$idle_http" || fail "HTTP: a silent connection stayed open: $(cat "$WORK/idle-http.out")"
wait "$idle_grpc" || fail "gRPC: a silent connection stayed open: $(cat "$WORK/idle-grpc.out")"
echo "  HTTP $(cat "$WORK/idle-http.out"); gRPC $(cat "$WORK/idle-grpc.out")"
pass "silent connections closed; 200 connections at once on each port all closed; exports still work"

# ---- (c) slow loris ----
"${NA[@]}" slowloris "$HP" http 4 >"$WORK/slow-http.out" 2>&1 & slow_http=$!
"${NA[@]}" slowloris "$GP" grpc 13 >"$WORK/slow-grpc.out" 2>&1 & slow_grpc=$!
worst=0
for i in 1 2 3 4 5; do
  t=$(date +%s%N)
  exports_work "slow clients connected"
  ms=$(ms_since "$t")
  [ "$ms" -gt "$worst" ] && worst=$ms
  sleep 0.5
done
[ "$worst" -lt 1000 ] || fail "exports took $worst ms next to slow clients"
wait "$slow_http" || fail "HTTP: $(cat "$WORK/slow-http.out") (read_header_timeout is 2s)"
wait "$slow_grpc" || fail "gRPC: $(cat "$WORK/slow-grpc.out") (preface timeout is 10s)"
echo "  $(cat "$WORK/slow-http.out"); $(cat "$WORK/slow-grpc.out")"
pass "slow-loris clients cut off; other clients served (slowest export pair $worst ms)"

exports_work "everything"
stop_pipit "$PIPIT_PID" 5
[ "$STOP_RC" = 0 ] || fail "exit code $STOP_RC after SIGTERM (a sanitizer report makes it non-zero)"
pass "sanitizer build exits 0 after the abuse"

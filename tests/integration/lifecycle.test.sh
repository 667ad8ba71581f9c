#!/usr/bin/env bash
# pipit with no arguments runs the embedded default config: it serves
# /metrics on :8888 and health on :13133, logs JSON lines on stderr, and on
# SIGTERM stops, answering 503 while it drains, and exits 0 within 1 s.
# Built with ASan, a leak at exit turns the exit code non-zero.
source "$(dirname "$0")/lib.sh"

for port in 4317 4318 8888 13133; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    fail "port $port is already in use: the default-config test needs it free"
  fi
done

start_pipit default
wait_http http://localhost:13133/ 20
pass "health answers 200 once ready"

body=$(curl -sf http://localhost:13133/)
grep -q '"status":"Server available"' <<<"$body" || fail "health body: $body"
metrics=$(curl -sf http://localhost:8888/metrics)
for want in '# TYPE otelcol_process_uptime_total counter' 'otelcol_process_memory_rss' \
            'otelcol_receiver_accepted_spans_total{receiver="otlp",transport="grpc"} 0' \
            'otelcol_exporter_sent_spans_total{exporter="debug"} 0'; do
  grep -qF "$want" <<<"$metrics" || fail "/metrics lacks: $want"
done
pass "/metrics serves the Collector's names"

# stderr is not a terminal here: every line must be a JSON object.
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  if (!lines.length) throw new Error("no log lines");
  for (const l of lines) { const o = JSON.parse(l); for (const k of ["ts","level","component","msg"]) if (!(k in o)) throw new Error("missing " + k + ": " + l); }
' "$WORK/default.log" || fail "stderr is not JSON lines"
pass "logs are JSON lines"

stop_pipit "$PIPIT_PID" 5
[ "$STOP_RC" = 0 ] || fail "exit code $STOP_RC after SIGTERM (a sanitizer report makes it non-zero)"
[ "$STOP_MS" -lt 1000 ] || fail "took ${STOP_MS} ms to exit after SIGTERM"
grep -q '"msg":"shutdown complete"' "$WORK/default.log" || fail "no shutdown log line"
pass "SIGTERM: exit 0 in ${STOP_MS} ms"

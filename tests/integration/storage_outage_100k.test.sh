#!/usr/bin/env bash
# Durable queue, issue 6 test (1) at its full size: the backend is down while
# the OpenTelemetry JS SDK sends 100 000 spans (5 000 traces of 20) over
# OTLP/gRPC; the agent acknowledges every one, holds them (memory, then SQLite
# once the breaker is open), and when the backend comes up exactly 100 000
# arrive: none missing, none twice, every field intact. The SDK batches 1 024
# spans per request (about 2 MiB, under the receiver's 4 MiB limit), so the
# 100 000 spans are about 100 requests and the test takes well under a minute
# on the Sanitize binary. storage_outage.test.sh is the same with 20 000.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

began=$(date +%s%N)
agent_start agent spill
send_spans outage100k 5000 --batch 1024
[ "$SENT" = 100000 ] || fail "sent $SENT spans, not 100 000"
sent_ms=$((($(date +%s%N) - began) / 1000000))
wait_spilled 1 20
[ "$(delivered)" = 0 ] || fail "spans arrived while the backend was down"
spilled=$(agent_metric "pipit_storage_spilled_items_total{")
up=$(date +%s%N)
backend_start
wait_delivered "$SENT" 170
drain_ms=$((($(date +%s%N) - up) / 1000000))
sleep 1
node "$SDK_DIR/check.mjs" --expected "$WORK/outage100k.expected.jsonl" --actual "$BACKEND_FILE" \
  >"$WORK/outage100k-check.txt" 2>&1 || { cat "$WORK/outage100k-check.txt"; fail "outage100k: what the backend received differs from what the SDK sent"; }
cat "$WORK/outage100k-check.txt"
have=$(delivered)
[ "$have" = 100000 ] || fail "the backend holds $have spans, not exactly 100 000"
replayed=$(agent_metric "pipit_storage_replayed_items_total{")
[ "$replayed" -gt 0 ] || fail "nothing was replayed from disk (replayed=$replayed)"
[ "$(agent_metric 'pipit_storage_queue_batches{')" = 0 ] || fail "rows left on disk after delivery"
dropped=$(agent_metric "pipit_dropped_items_total{")
[ "$dropped" = 0 ] || fail "the agent dropped $dropped items"
exported=$(agent_metric 'otelcol_exporter_sent_spans_total{')
[ "$exported" = 100000 ] || fail "the agent counts $exported spans sent, not 100 000"
stop_pipit "$AGENT_PID" 20
[ "$STOP_RC" = 0 ] || fail "agent exited $STOP_RC"
pass "outage 100k: 100000 spans acknowledged while the backend was down (${sent_ms} ms; $spilled spilled to disk), exactly 100000 delivered once in ${drain_ms} ms after it came up ($replayed replayed from disk), 0 duplicates, 0 dropped"

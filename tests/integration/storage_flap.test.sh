#!/usr/bin/env bash
# Durable queue, issue 6 test (6): the backend flaps (up 2 s, down 2 s) for
# about 30 s while the SDK keeps sending; when it stays up, every span has
# arrived with every field intact, the agent dropped nothing, and by the
# agent's own count (otelcol_exporter_sent_spans) each span was delivered
# once. Delivery is at least once: a request the backend wrote but whose
# answer was lost when it stopped is sent again, so check.mjs accepts
# duplicates here (and the test prints how many). The SDK sends several
# requests at once here and the agent has 4 consumers, so arrival order is not
# checked; storage_order.test.sh checks order end to end (sequential sender,
# num_consumers: 1, the same flapping), and test_storage.c unit-tests FIFO per
# shard across memory and disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

agent_start flap spill
node "$SDK_DIR/send_traces.mjs" --protocol grpc --endpoint "http://127.0.0.1:$AGENT_GRPC" \
  --traces 1500 --spans-per-trace 20 --seed 6 --out "$WORK/flap.expected.jsonl" \
  >"$WORK/flap-sender.log" 2>&1 &
sender=$!
PIDS+=("$sender")
flaps=0
for ((i = 0; i < 8; i++)); do
  backend_start
  sleep 2
  backend_stop
  flaps=$((flaps + 1))
  sleep 2
done
wait "$sender" || { head -c 3000 "$WORK/flap-sender.log"; fail "the SDK could not export to the agent"; }
SENT=30000
backend_start
wait_delivered "$SENT" 120
sleep 1
node "$SDK_DIR/check.mjs" --expected "$WORK/flap.expected.jsonl" --actual "$BACKEND_FILE" \
  --allow-duplicates >"$WORK/flap-check.txt" 2>&1 || { cat "$WORK/flap-check.txt"; fail "flap: spans missing or changed"; }
sent=$(agent_metric 'otelcol_exporter_sent_spans_total{')
[ "$sent" = "$SENT" ] || fail "flap: the agent counts $sent spans sent, the SDK sent $SENT (a request sent twice?)"
dups=$(grep -o '[0-9]* duplicate' "$WORK/flap-check.txt" | grep -o '[0-9]*' || echo 0)
dropped=$(agent_metric 'pipit_dropped_items_total{')
[ "$dropped" = 0 ] || fail "the agent dropped $dropped items"
spilled=$(agent_metric 'pipit_storage_spilled_items_total{')
stop_pipit "$AGENT_PID" 20
[ "$STOP_RC" = 0 ] || fail "agent exited $STOP_RC"
pass "flap: backend down $flaps times in 32 s; $SENT spans delivered ($spilled through disk; $dups duplicates from answers lost at backend stops)"

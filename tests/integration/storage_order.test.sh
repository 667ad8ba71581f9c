#!/usr/bin/env bash
# Durable queue, issue 6 test (6)'s "order kept", end to end: the SDK sends
# strictly sequentially (send_traces.mjs --sequential: one trace of 5 spans per
# request, the next only after the previous one was acknowledged, on one gRPC
# connection), so the order of the expected file is the order in which the
# agent acknowledged the spans. The agent's otlp exporter has a file_storage
# queue with num_consumers: 1 (one consumer, one shard: FIFO) and sends to a
# backend that flaps (up 2 s, down 2 s) while the SDK sends. When the backend
# stays up, check.mjs --order checks that it got every span, every field
# intact, in acknowledgement order: each span seen for the first time is the
# next one expected. Delivery is at least once: a request the backend wrote but
# whose answer was lost when it stopped is sent again, so duplicates are
# allowed, but only as in-order replays of the newest requests (a repeated run
# of consecutive spans ending with the newest one delivered); check.mjs prints
# each run. Run once with durability spill and once with always.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

AGENT_CONSUMERS=1
TRACES=1200
results=()
for durability in spill always; do
  BACKEND_FILE="$WORK/backend-$durability.jsonl"
  STORE_DIR="$WORK/store-$durability"
  agent_start "order-$durability" "$durability"
  node "$SDK_DIR/send_traces.mjs" --protocol grpc --endpoint "http://127.0.0.1:$AGENT_GRPC" \
    --traces $TRACES --spans-per-trace 5 --seed 66 --sequential --interval-ms 8 \
    --out "$WORK/order-$durability.expected.jsonl" >"$WORK/order-$durability-sender.log" 2>&1 &
  sender=$!
  PIDS+=("$sender")
  flaps=0
  while kill -0 "$sender" 2>/dev/null && [ $flaps -lt 8 ]; do
    backend_start
    sleep 2
    backend_stop
    flaps=$((flaps + 1))
    sleep 2
  done
  wait "$sender" || { head -c 3000 "$WORK/order-$durability-sender.log"; fail "$durability: the SDK could not export to the agent"; }
  [ $flaps -ge 3 ] || fail "$durability: the sender finished after only $flaps backend stops; slow it down"
  SENT=$((TRACES * 5))
  backend_start
  wait_delivered "$SENT" 120
  sleep 1
  node "$SDK_DIR/check.mjs" --expected "$WORK/order-$durability.expected.jsonl" --actual "$BACKEND_FILE" \
    --allow-duplicates --order >"$WORK/order-$durability-check.txt" 2>&1 ||
    { cat "$WORK/order-$durability-check.txt"; fail "$durability: spans missing, changed or out of order"; }
  cat "$WORK/order-$durability-check.txt"
  dups=$(grep -o '[0-9]* duplicate' "$WORK/order-$durability-check.txt" | grep -o '[0-9]*' || echo 0)
  dropped=$(agent_metric 'pipit_dropped_items_total{')
  [ "$dropped" = 0 ] || fail "$durability: the agent dropped $dropped items"
  spilled=$(agent_metric 'pipit_storage_spilled_items_total{')
  stop_pipit "$AGENT_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$durability: agent exited $STOP_RC"
  backend_stop
  results+=("$durability: $SENT spans in $TRACES sequential requests, backend down $flaps times, all in order ($spilled through disk, $dups in-order duplicates)")
done
pass "order: $(IFS=';'; echo "${results[*]}")"

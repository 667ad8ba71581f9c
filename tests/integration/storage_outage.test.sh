#!/usr/bin/env bash
# Durable queue, issue 6 test (1): the backend is down while the SDK sends
# 20 000 spans (100 000 in the issue; 20 000 keeps the suite within its time
# budget on two cores and exercises the same paths: breaker open, spill,
# replay; storage_outage_100k.test.sh is the full 100 000); the agent acknowledges them, spills them to SQLite, and when the
# backend comes up every span arrives exactly once, every field intact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

agent_start agent spill
send_spans outage 1000
wait_spilled 1 20
[ "$(delivered)" = 0 ] || fail "spans arrived while the backend was down"
backend_start
wait_delivered "$SENT" 120
sleep 1
check_exact outage
replayed=$(agent_metric "pipit_storage_replayed_items_total{")
[ "$replayed" -gt 0 ] || fail "nothing was replayed from disk (replayed=$replayed)"
[ "$(agent_metric 'pipit_storage_queue_batches{')" = 0 ] || fail "rows left on disk after delivery"
dropped=$(agent_metric "pipit_dropped_items_total{")
[ "$dropped" = 0 ] || fail "the agent dropped $dropped items"
stop_pipit "$AGENT_PID" 20
[ "$STOP_RC" = 0 ] || fail "agent exited $STOP_RC"
pass "outage: $SENT spans sent while the backend was down, all delivered once ($replayed replayed from disk)"

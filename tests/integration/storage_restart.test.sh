#!/usr/bin/env bash
# Durable queue, issue 6 tests (2) and (5): what the agent acknowledged
# survives the agent itself.
#   spill + SIGKILL: once spilled (the backend is down), a kill -9 loses nothing.
#   always + SIGKILL right after the SDK's last acknowledgement: nothing lost.
#   spill + SIGTERM with a backlog: the drain ends at the deadline, the rest
#   is on disk, and the next run delivers it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

restart_and_deliver() {
  local name=$1 durability=$2
  agent_start "$name-again" "$durability"
  backend_start
  wait_delivered "$SENT" 120
  sleep 1
  check_exact "$name"
  stop_pipit "$AGENT_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$name: agent exited $STOP_RC"
  backend_stop
}

# (2) spill, SIGKILL once everything is on disk
STORE_DIR="$WORK/store-kill-spill" BACKEND_FILE="$WORK/backend-kill-spill.jsonl"
agent_start kill-spill spill
send_spans kill-spill 300
wait_spilled "$SENT" 30
sleep 0.5 # the last group commit
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
restart_and_deliver kill-spill spill
pass "spill: $SENT spans spilled, agent killed with SIGKILL, all delivered after the restart"

# (2) always, SIGKILL at once: every acknowledged span was committed
STORE_DIR="$WORK/store-kill-always" BACKEND_FILE="$WORK/backend-kill-always.jsonl"
agent_start kill-always always
send_spans kill-always 300
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
restart_and_deliver kill-always always
pass "always: agent killed with SIGKILL right after the SDK's last ack, all $SENT spans delivered"

# (5) SIGTERM with a backlog (the backend is down): exit within the deadline
STORE_DIR="$WORK/store-term" BACKEND_FILE="$WORK/backend-term.jsonl"
agent_start term spill
send_spans term 300
stop_pipit "$AGENT_PID" 10
[ "$STOP_RC" = 0 ] || fail "term: agent exited $STOP_RC after SIGTERM"
[ "$STOP_MS" -lt 6000 ] || fail "term: SIGTERM took $STOP_MS ms (shutdown_timeout 2s)"
grep -q '"reason":"shutdown_deadline"' "$WORK/term.log" && fail "term: data dropped at shutdown"
restart_and_deliver term spill
pass "SIGTERM with a backlog: stopped in $STOP_MS ms, all $SENT spans delivered by the next run"

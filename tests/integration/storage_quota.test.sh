#!/usr/bin/env bash
# Durable queue, issue 6 tests (3) and (4).
#   quota: a 1 MiB quota with drop_oldest while the backend is down; after it
#   comes back, delivered + pipit_dropped_items{reason=storage_quota} equals
#   what the SDK sent, exactly, and health showed the fill while degraded.
#   corrupt: garbage in the database file; the agent moves it aside, says so
#   at error level, counts it, and runs on a fresh file.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/storage_lib.sh"
sdk_require

STORE_DIR="$WORK/store-quota" BACKEND_FILE="$WORK/backend-quota.jsonl"
agent_start quota spill "    max_size_mib: 1"
send_spans quota 1000
wait_spilled "$SENT" 60
sleep 0.5
health=$(curl -s "http://127.0.0.1:$AGENT_HEALTH/")
echo "$health" | grep -q '"degraded"' || fail "quota: health not degraded when full: $health"
echo "$health" | grep -q '% full' || fail "quota: health does not show the fill: $health"
dropped=$(agent_metric 'pipit_dropped_items_total{component="exporter/otlp",reason="storage_quota"')
[ "$dropped" -gt 0 ] || fail "quota: nothing dropped with a 1 MiB quota"
backend_start
for ((i = 0; i < 240; i++)); do
  [ "$(agent_metric 'otelcol_exporter_queue_size{')" = 0 ] && break
  sleep 0.25
done
[ "$(agent_metric 'otelcol_exporter_queue_size{')" = 0 ] || fail "quota: the queue did not drain"
sleep 1
have=$(delivered)
dropped=$(agent_metric 'pipit_dropped_items_total{')
quota=$(agent_metric 'pipit_dropped_items_total{component="exporter/otlp",reason="storage_quota"')
[ "$dropped" = "$quota" ] || fail "quota: drops for other reasons: all=$dropped storage_quota=$quota"
[ $((have + dropped)) = "$SENT" ] ||
  fail "quota: delivered $have + dropped $dropped != sent $SENT"
stop_pipit "$AGENT_PID" 20
[ "$STOP_RC" = 0 ] || fail "quota: agent exited $STOP_RC"
backend_stop
pass "quota: sent $SENT = delivered $have + dropped (storage_quota) $dropped"

# (4) corrupt database file
STORE_DIR="$WORK/store-corrupt" BACKEND_FILE="$WORK/backend-corrupt.jsonl"
mkdir -p "$STORE_DIR"
head -c 65536 /dev/urandom >"$STORE_DIR/pipit-queue.db"
backend_start
agent_start corrupt spill
grep -q '"level":"error".*STORAGE FILE CORRUPT' "$WORK/corrupt.log" || fail "corrupt: not logged at error level"
ls "$STORE_DIR"/pipit-queue.db.corrupt-* >/dev/null 2>&1 || fail "corrupt: the file was not moved aside"
[ "$(agent_metric 'pipit_storage_corrupt_files_total{')" = 1 ] || fail "corrupt: not counted"
send_spans corrupt 20
wait_delivered "$SENT" 60
check_exact corrupt
stop_pipit "$AGENT_PID" 20
[ "$STOP_RC" = 0 ] || fail "corrupt: agent exited $STOP_RC"
pass "corrupt: quarantined, counted, logged; $SENT spans delivered on the fresh file"

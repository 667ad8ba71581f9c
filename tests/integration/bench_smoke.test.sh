#!/usr/bin/env bash
# tools/bench/run.sh itself in smoke size (one second per measurement, a small
# client), so the harness keeps working: forwarding (S1) and spill / replay
# (S5). Asserts that it completes and prints numbers, never what they are;
# run.sh itself fails when the sink holds fewer spans than were acknowledged.
source "$(dirname "$0")/lib.sh"

out="$WORK/bench.md"
ONLY="S1 S5" DUR=1 CONNS=1 STREAMS=2 OUT="$out" TMPDIR="$WORK" \
  "$PIPIT_SOURCE_DIR/tools/bench/run.sh" >"$WORK/run.log" 2>&1 || { tail -n 30 "$WORK/run.log"; fail "run.sh failed"; }
for sc in S1 S5; do
  row=$(grep "^| $sc |" "$out") || fail "no $sc row in the table"
  rate=$(cut -d'|' -f3 <<<"$row" | tr -d ' ')
  [[ "$rate" =~ ^[0-9]+$ ]] && [ "$rate" -gt 0 ] || fail "$sc: no spans/s in \"$row\""
  pass "$sc row: $rate spans/s (smoke size; not a measurement)"
done
grep -q "^S5 replay: .* held all [0-9]* acknowledged spans" "$out" || fail "no S5 replay line"
pass "S5 replayed every acknowledged span"

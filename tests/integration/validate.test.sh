#!/usr/bin/env bash
# `pipit validate` accepts every example configuration in docs/ and rejects
# each broken one in tests/data/config-broken/, naming the YAML path that its
# first line ("# expect: <text>") announces.
source "$(dirname "$0")/lib.sh"

export JAEGER_HOST=localhost SENTRY_DSN=https://public@sentry.example.com/1
for f in "$PIPIT_SOURCE_DIR"/docs/examples/*.yaml; do
  out=$("$PIPIT_BIN" validate --config "$f" 2>&1) || fail "$f rejected: $out"
  pass "valid: $(basename "$f")"
done

"$PIPIT_BIN" validate >/dev/null 2>&1 || fail "the embedded default config does not validate"
pass "valid: embedded default"

for f in "$PIPIT_SOURCE_DIR"/tests/data/config-broken/*.yaml; do
  set +e
  out=$("$PIPIT_BIN" validate --config "$f" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] || fail "$f accepted"
  grep -h '^# expect: ' "$f" | sed 's/^# expect: //' | while IFS= read -r want; do
    grep -qF -- "$want" <<<"$out" || fail "$(basename "$f"): missing \"$want\" in: $out"
  done
  pass "rejected: $(basename "$f")"
done

# Later files override earlier ones (as in the Collector).
cat >"$WORK/base.yaml" <<'YAML'
receivers: {otlp: {protocols: {grpc: }}}
exporters: {debug: {verbosity: basic}}
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
YAML
cat >"$WORK/override.yaml" <<'YAML'
exporters: {debug: {verbosity: loud}}
YAML
set +e
out=$("$PIPIT_BIN" validate --config "$WORK/base.yaml" --config "$WORK/override.yaml" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && grep -qF 'exporters.debug.verbosity' <<<"$out" || fail "override not applied: $out"
pass "second --config overrides the first"

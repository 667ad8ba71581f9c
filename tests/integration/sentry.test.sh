#!/usr/bin/env bash
# End to end into Sentry's envelope protocol: the OpenTelemetry JS SDK sends
# traces (with recorded exceptions) over OTLP/HTTP to pipit, whose sentry
# exporter posts envelopes to tests/integration/sentry/server.mjs, which
# parses every one with @sentry/core's parseEnvelope and checks the auth
# header and sent_at. sentry/check.mjs then asserts one transaction per local
# root with its spans, one error event per exception with type, value, stack
# frames and trace linkage, and that 429s were respected with nothing lost.
source "$(dirname "$0")/lib.sh"
sdk_require
[ -d "$PIPIT_SOURCE_DIR/tests/integration/node_modules/@sentry/core" ] ||
  fail "@sentry/core is not installed: run tools/install-deps.sh --test"

SENTRY_DIR="$PIPIT_SOURCE_DIR/tests/integration/sentry"
KEY=0123456789abcdef0123456789abcdef

# pipit_sentry_rate_limited_seconds_total of a category in a /metrics dump.
limited_seconds() {
  grep '^pipit_sentry_rate_limited_seconds_total{' "$1" | grep "category=\"$2\"" | awk '{ print $2 }'
}

# sentry_case NAME COMPRESSION WANT_LIMITS [server args...]
sentry_case() {
  local name=$1 comp=$2 want_limits=$3 port health telemetry i have want_tx want_err
  shift 3
  node "$SENTRY_DIR/server.mjs" --port-file "$WORK/$name.port" --key "$KEY" "$@" \
    >"$WORK/$name-server.log" 2>&1 &
  PIDS+=("$!")
  local server_pid=$!
  for ((i = 0; i < 100; i++)); do [ -s "$WORK/$name.port" ] && break; sleep 0.05; done
  [ -s "$WORK/$name.port" ] || fail "$name: the Sentry test server did not start"
  port=$(cat "$WORK/$name.port")

  local otlp; otlp=$(free_port); health=$(free_port); telemetry=$(free_port)
  cat >"$WORK/$name.yaml" <<YAML
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$otlp
processors:
  batch:
    timeout: 200ms
    send_batch_size: 8192
exporters:
  sentry:
    dsn: \${env:PIPIT_TEST_DSN}
    environment: it
    compression: $comp
    retry_on_failure: {initial_interval: 50ms, max_interval: 200ms}
extensions:
  health_check:
    endpoint: 127.0.0.1:$health
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [sentry]
  telemetry:
    metrics:
      address: 127.0.0.1:$telemetry
YAML
  PIPIT_TEST_DSN="http://$KEY@127.0.0.1:$port/42" start_pipit "$name" --config "$WORK/$name.yaml"
  wait_http "http://127.0.0.1:$health/" 20
  # 16 spans per trace: the SDK's 512-span exports hold whole traces.
  node "$SDK_DIR/send_traces.mjs" --protocol http/protobuf --endpoint "http://127.0.0.1:$otlp" \
    --traces 30 --spans-per-trace 16 --seed 11 --out "$WORK/$name.expected.jsonl" \
    >"$WORK/$name-sender.log" 2>&1 || { cat "$WORK/$name-sender.log"; fail "$name: the SDK could not export"; }
  want_tx=30
  want_err=$(grep -c '"name":"exception"' "$WORK/$name.expected.jsonl" || true)
  [ "$want_err" -gt 0 ] || fail "$name: the sender recorded no exceptions"
  for ((i = 0; i < 300; i++)); do
    curl -sf "http://127.0.0.1:$port/records" >"$WORK/$name.records.json"
    have=$(node "$SENTRY_DIR/check.mjs" --records "$WORK/$name.records.json" --count)
    [ "$have" = "$want_tx $want_err" ] && break
    sleep 0.1
  done
  [ "$have" = "$want_tx $want_err" ] || echo "# $name: the server has $have of $want_tx $want_err"
  local limited_err limited_tx
  curl -sf "http://127.0.0.1:$telemetry/metrics" >"$WORK/$name.metrics" || fail "$name: no /metrics"
  limited_err=$(limited_seconds "$WORK/$name.metrics" error)
  limited_tx=$(limited_seconds "$WORK/$name.metrics" transaction)
  stop_pipit "$PIPIT_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$name: pipit exited $STOP_RC after SIGTERM"
  grep -q "$KEY" "$WORK/$name.log" && fail "$name: the DSN key appears in pipit's log"
  node "$SENTRY_DIR/check.mjs" --expected "$WORK/$name.expected.jsonl" \
    --records "$WORK/$name.records.json" --want-limits "$want_limits" || fail "$name: see above"
  kill -TERM "$server_pid" 2>/dev/null || true
  pass "$name: $want_tx transactions and $want_err error events ($comp); rate-limited seconds: error ${limited_err:-?}, transaction ${limited_tx:-?}"
  LIMITED_ERR=${limited_err:-0} LIMITED_TX=${limited_tx:-0}
}

sentry_case plain gzip 0
[ "$LIMITED_ERR" = 0 ] && [ "$LIMITED_TX" = 0 ] || fail "plain: rate-limited time counted without limits"

# Errors limited by X-Sentry-Rate-Limits on a 429: they wait 3 s; transactions go on.
sentry_case limit-errors gzip 1 --limit-category error --limit-count 1 --limit-seconds 3 --limit-header rate-limits
[ "$LIMITED_ERR" = 3 ] && [ "$LIMITED_TX" = 0 ] || fail "limit-errors: rate-limited seconds error=$LIMITED_ERR transaction=$LIMITED_TX"

# A bare 429 with Retry-After on a transaction limits every category for 2 s.
if command -v zstd >/dev/null; then comp=zstd; else comp=gzip; fi
sentry_case retry-after "$comp" 1 --limit-category transaction --limit-count 1 --limit-seconds 2 --limit-header retry-after
[ "$LIMITED_ERR" = 2 ] && [ "$LIMITED_TX" = 2 ] || fail "retry-after: rate-limited seconds error=$LIMITED_ERR transaction=$LIMITED_TX"

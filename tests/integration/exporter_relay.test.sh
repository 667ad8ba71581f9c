#!/usr/bin/env bash
# Issue 4, "must show": SDK -> pipit A -> backend is exact for the gRPC and
# the HTTP exporters. The OpenTelemetry JS SDK sends traces (OTLP/gRPC) and
# metrics (OTLP/HTTP protobuf) to pipit A (otlp receiver -> batch -> one
# exporter); A forwards them to a backend:
#   pipit  a second pipit (otlp receiver -> file exporters), reached through
#          backend/tcp_count_proxy.mjs, which counts A's connections to it;
#   grpc   backend/otlp_grpc_server.mjs (@grpc/grpc-js);
#   http   backend/otlp_http_server.mjs (node http, protobuf or JSON).
# Every span and data point must reach the backend exactly once with every
# field equal (sdk/check.mjs), and A's counters must say so: sent = what the
# SDK sent, send_failed = 0, no drop, no retry. Each exporter runs with each
# compression its backend can decode (grpc-js and node's zlib have no zstd or
# snappy: those go to pipit).
source "$(dirname "$0")/lib.sh"
sdk_require

# relay_case NAME otlp|otlphttp pipit|grpc|http COMPRESSION ENCODING TRACES [SPANS_PER_TRACE]
relay_case() {
  local name=$1 exporter=$2 backend=$3 comp=$4 encoding=$5 traces=$6 per=${7:-20}
  local port target body exp_t exp_m want_t want_m sent_t sent_m failed drops retries conns=-
  local t0 t1
  port=$(free_port)
  case $backend in
    pipit)
      local bgrpc bhttp
      bgrpc=$(free_port); bhttp=$(free_port)
      start_pipit_backend "$name-b" "$bgrpc" "$bhttp"
      target=$bgrpc; [ "$exporter" = otlphttp ] && target=$bhttp
      node "$BACKEND_DIR/tcp_count_proxy.mjs" --listen "$port" --target "$target" \
        --stats "$WORK/$name.conns" --ready "$WORK/$name.proxy-ready" 2>"$WORK/$name-proxy.log" &
      PIDS+=($!)
      wait_file "$WORK/$name.proxy-ready" 20
      ;;
    *) start_backend "$name-b" "$backend" "$port" ;;
  esac
  if [ "$exporter" = otlp ]; then
    body="    endpoint: 127.0.0.1:$port
    tls:
      insecure: true
    compression: $comp"
  else
    body="    endpoint: http://127.0.0.1:$port
    encoding: $encoding
    compression: $comp"
  fi
  # Attempt timeout: 5 s by default (pipit B built with ASan takes up to a
  # second for 1000 spans of JSON).
  [ -n "${RELAY_CONSUMERS:-}" ] && body+="
    sending_queue:
      num_consumers: $RELAY_CONSUMERS"
  body+="
    timeout: ${RELAY_TIMEOUT:-5s}
    retry_on_failure:
      initial_interval: 100ms"
  start_relay "$name-a" "$exporter" "$body"

  exp_t="$WORK/$name.expected-traces.jsonl" exp_m="$WORK/$name.expected-metrics.jsonl"
  t0=$(date +%s%N)
  sdk_send "$name-traces" traces grpc "http://127.0.0.1:$A_GRPC" none "$exp_t" \
    --traces "$traces" --spans-per-trace "$per" --seed "$((++SEED))"
  sdk_send "$name-metrics" metrics http/protobuf "http://127.0.0.1:$A_HTTP" gzip "$exp_m" \
    --series 20 --rounds 2 --seed "$((++SEED))"
  want_t=$(sdk_expected_count "$exp_t"); want_m=$(sdk_expected_count "$exp_m")
  wait_items "$WORK/$name-b.traces.jsonl" "$want_t" 60 ||
    fail "$name: the backend has $HAVE of $want_t spans after 60 s"
  wait_items "$WORK/$name-b.metrics.jsonl" "$want_m" 30 ||
    fail "$name: the backend has $HAVE of $want_m data points after 30 s"
  t1=$(date +%s%N)

  sent_t=$(metric_at "$A_TELEMETRY" "otelcol_exporter_sent_spans_total{exporter=\"$exporter\"}")
  sent_m=$(metric_at "$A_TELEMETRY" "otelcol_exporter_sent_metric_points_total{exporter=\"$exporter\"}")
  failed=$(metric_sum_at "$A_TELEMETRY" "otelcol_exporter_send_failed_")
  drops=$(metric_sum_at "$A_TELEMETRY" "pipit_dropped_items_total{component=\"exporter/")
  retries=$(metric_sum_at "$A_TELEMETRY" "pipit_exporter_retries_total")
  stop_pipit "$A_PID" 20
  [ "$STOP_RC" = 0 ] || fail "$name: pipit A exited $STOP_RC after SIGTERM"
  if [ "$backend" = pipit ]; then
    stop_pipit "$B_PID" 20
    [ "$STOP_RC" = 0 ] || fail "$name: pipit B exited $STOP_RC after SIGTERM"
    conns=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).accepted)' "$WORK/$name.conns")
  fi

  node "$SDK_DIR/check.mjs" --expected "$exp_t" --actual "$WORK/$name-b.traces.jsonl" ||
    fail "$name: the spans the backend stored differ from what the SDK sent"
  node "$SDK_DIR/check.mjs" --expected "$exp_m" --actual "$WORK/$name-b.metrics.jsonl" ||
    fail "$name: the data points the backend stored differ from what the SDK sent"
  [ "$sent_t" = "$want_t" ] || fail "$name: A counted $sent_t spans sent, the SDK sent $want_t"
  [ "$sent_m" = "$want_m" ] || fail "$name: A counted $sent_m data points sent, the SDK sent $want_m"
  [ "$failed" = 0 ] || fail "$name: A counted $failed items in failed sends"
  [ "$drops" = 0 ] || fail "$name: A dropped $drops items"
  [ "$retries" = 0 ] || fail "$name: A retried $retries times against a healthy backend"
  local reqs
  reqs=$(($(grep -c . "$WORK/$name-b.traces.jsonl") + $(grep -c . "$WORK/$name-b.metrics.jsonl")))
  if [ "$conns" != - ]; then
    # Connections are kept (h2c by the otlp exporter's own client, HTTP/1.1 by
    # libcurl): at most one per consumer.
    [ "$conns" -le "${RELAY_CONSUMERS:-10}" ] ||
      fail "$name: $conns connections for $reqs requests from ${RELAY_CONSUMERS:-10} consumers"
  fi
  pass "$name: $exporter${encoding:+ $encoding} ($comp) -> $backend: $want_t spans and $want_m points exact in $reqs requests, $(((t1 - t0) / 1000000)) ms; connections to the backend: $conns"
}

SEED=0

# 10 000 spans in batches of 50 to 100 (over 100 requests) over at most one
# connection per consumer. With a 1 s attempt timeout no request may time
# out: an answer that has arrived must be taken at once (libcurl 7.88 could
# sit on one for up to its 1 s poll, egress.c, which made about 1 request in
# 70 time out, be resent and stored twice). (4 consumers: 10 requests at once
# keep pipit B, built with ASan, busy for longer than 1 s.)
RELAY_BATCH=50 RELAY_TIMEOUT=1s RELAY_CONSUMERS=4 relay_case grpc-pipit-gzip-10k otlp pipit gzip "" 500 20
RELAY_BATCH=50 relay_case http-proto-pipit-gzip-10k otlphttp pipit gzip proto 500 20
relay_case grpc-pipit-none otlp pipit none "" 50
relay_case grpc-pipit-zstd otlp pipit zstd "" 50
relay_case grpc-pipit-snappy otlp pipit snappy "" 50
relay_case grpc-grpcjs-none otlp grpc none "" 50
relay_case grpc-grpcjs-gzip otlp grpc gzip "" 50
relay_case http-proto-pipit-zstd otlphttp pipit zstd proto 50
relay_case http-json-pipit-snappy otlphttp pipit snappy json 50
relay_case http-proto-node-none otlphttp http none proto 50
relay_case http-proto-node-gzip otlphttp http gzip proto 50
relay_case http-json-node-none otlphttp http none json 50
relay_case http-json-node-gzip otlphttp http gzip json 50

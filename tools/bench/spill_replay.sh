# tools/bench/spill_replay.sh -- scenario S5 of tools/bench/run.sh, which
# sources this file and provides the helpers and variables used here
# (start_pipit, start_sink, measure, loadgen, row, fmt, pipit_metric, ...).
#
# S5: S1 (OTLP/gRPC -> batch -> otlp exporter) while the backend is down. The
# exporter has a durable queue (sending_queue.storage, the file_storage
# extension, docs/components/storage.md); its breaker opens after a few
# refused connections and requests spill to SQLite. The usual columns are
# measured while spilling. Then the sink starts on the port the exporter was
# given, and the replay is timed until the sink holds every span pipit
# acknowledged; the "direct" p99 is measured after that, against the live sink.

# YAML for S5 (uses $GRPC $HTTP $METRICS $SINK_GRPC $WORK). Short retry and
# breaker intervals, so the exporter notices the sink within ~0.2 s; the
# default 5 s timeout (2 s made many replayed requests time out at the busy
# sink and arrive twice);
# when_full: refuse, so that every acknowledged span must arrive (the quota
# would otherwise drop the oldest).
spill_config() {
  cat <<YAML
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:$GRPC"}
      http: {endpoint: "127.0.0.1:$HTTP"}
processors:
  batch:
exporters:
  otlp/spill:
    endpoint: "127.0.0.1:$SINK_GRPC"
    tls: {insecure: true}
    compression: none
    sending_queue: {storage: file_storage/bench}
    retry_on_failure: {initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 1s}
    circuit_breaker: {failure_threshold: 3, cool_down: 200ms}
extensions:
  file_storage/bench: {directory: "$WORK/storage", max_size_mib: 16384, when_full: refuse}
service:
  extensions: [file_storage/bench]
  pipelines:
    traces: {receivers: [otlp], processors: [batch], exporters: [otlp/spill]}
  telemetry:
    metrics: {address: "127.0.0.1:$METRICS"}
YAML
}

now_ns() { date +%s%N; }

run_s5() {
  local acked=0 spilled t0 c0 t1 c1 got=0 limit=${REPLAY_LIMIT:-300}
  rm -rf "$WORK/storage"
  SINK_GRPC=$(free_port) # reserved: the sink starts on exactly this port later
  start_pipit S5
  acked=$(loadgen S5 "$GRPC" --duration 1 --rate 10000 | jq .spans.acked) # warm-up; opens the breaker
  # Saturation while spilling: closed loop.
  measure S5 "$GRPC" --duration "$DUR" --connections "$CONNS" --streams "$STREAMS"
  SAT=$(jq .achieved.spans_per_s <<<"$RES")
  ACKED=$(jq .spans.acked <<<"$RES")
  acked=$((acked + ACKED))
  CPU_PER_M=$(echo "scale=4; $CPU_S / ($ACKED / 1000000)" | bc)
  RATIO=$(echo "scale=2; $CPU_PER_M * 1000 / $FLOOR_NS" | bc)
  echo "S5 saturation (spilling): $RES" >>"$WORK/raw.log"
  # Half of saturation, open loop, still spilling.
  HALF=$(fmt "$(echo "$SAT / 2" | bc -l)")
  measure S5 "$GRPC" --duration "$DUR" --rate "$HALF" --connections "$CONNS" --streams "$STREAMS"
  P99=$(jq .latency_ms.p99 <<<"$RES")
  acked=$((acked + $(jq .spans.acked <<<"$RES")))
  # Fixed 10 000 spans/s, still spilling.
  measure S5 "$GRPC" --duration "$DUR" --rate 10000 --connections 1 --streams 4
  CPU10=$(echo "scale=2; $CPU_S * 100 / $DUR" | bc)
  RSS10=$(( $(status_kb "$PIPIT_PID" VmRSS) / 1024 ))
  acked=$((acked + $(jq .spans.acked <<<"$RES")))
  spilled=$(pipit_metric pipit_storage_spilled_items_total)
  echo "S5 before the sink starts: loadgen got $acked spans acknowledged; pipit accepted $(pipit_metric otelcol_receiver_accepted_spans_total), exported $(pipit_metric otelcol_exporter_sent_spans_total), spilled $spilled to SQLite ($(du -sh "$WORK/storage" | cut -f1) on disk)" >>"$WORK/raw.log"

  # Replay: from the sink's start until it holds every acknowledged span.
  t0=$(now_ns); c0=$(cpu_ticks "$PIPIT_PID")
  start_sink "$SINK_GRPC"
  while [ $(( ($(now_ns) - t0) / 1000000000 )) -lt "$limit" ]; do
    got=$(sink_counts | jq .spans)
    [ "$got" -ge "$acked" ] && break
    sleep 0.1
  done
  t1=$(now_ns); c1=$(cpu_ticks "$PIPIT_PID")
  local replay_s replay_rate replay_cpu
  replay_s=$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc)
  replay_rate=$(echo "$got / $replay_s" | bc -l)
  replay_cpu=0; [ "$got" -gt 0 ] && replay_cpu=$(echo "scale=4; ($c1 - $c0) / $TICK / ($got / 1000000)" | bc)
  # Late duplicates: let the exporter finish what it has out, then count.
  for _ in $(seq 100); do
    [ "$(pipit_metric pipit_storage_queue_batches)" = 0 ] && [ "$(pipit_metric otelcol_exporter_queue_size)" = 0 ] && break
    sleep 0.1
  done
  sleep 0.5
  got=$(sink_counts | jq .spans)
  echo "S5 after the replay: the sink holds $got spans; pipit exported $(pipit_metric otelcol_exporter_sent_spans_total), replayed $(pipit_metric pipit_storage_replayed_items_total) from disk, $(pipit_metric pipit_storage_queue_batches) requests left on disk, $(pipit_metric pipit_dropped_items_total) items dropped" >>"$WORK/raw.log"

  # The same half load straight to the (now running) sink.
  DIRECT=$(loadgen S5 "$SINK_GRPC" --duration "$DUR" --rate "$HALF" --connections "$CONNS" --streams "$STREAMS" | jq .latency_ms.p99)
  HWM=$(( $(status_kb "$PIPIT_PID" VmHWM) / 1024 ))
  stop "$PIPIT_PID"
  stop "$SINK_PID"
  row S5 "$(fmt "$SAT")" "$(fmt "$CPU_PER_M" 2)" "$RATIO" "$HWM" "$(fmt "$P99" 2) ($(fmt "$DIRECT" 2))" \
      "$(fmt "$(echo "$P99 - $DIRECT" | bc -l)" 2)" "$CPU10" "$RSS10"
  if [ "$got" -ge "$acked" ]; then
    echo "S5 replay: the sink started after the spilling runs and held all $acked acknowledged spans after $(fmt "$replay_s" 2) s: $(fmt "$replay_rate") spans/s, pipit $(fmt "$replay_cpu" 2) CPU-s per M spans meanwhile; $((got - acked)) duplicates (at least once), $spilled spans had gone to SQLite. The S5 row is measured while spilling (sink down); its direct p99 against the live sink after the replay." >>"$WORK/notes.md"
  else
    echo "S5 replay: LOST $((acked - got)) of $acked acknowledged spans: the sink holds $got after ${limit} s." >>"$WORK/notes.md"
    UNDELIVERED=1
  fi
}

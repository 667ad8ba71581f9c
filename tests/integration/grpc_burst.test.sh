#!/usr/bin/env bash
# The OpenTelemetry JS SDK's gRPC exporter, when forceFlush finds a large
# queue, sends dozens of concurrent Export calls (512 spans, about 1 MiB each)
# on ONE connection: more than the receiver's per-connection budget (4 x the
# 4 MiB max message). pipit must make the client wait through HTTP/2 flow
# control, as the Collector does, not refuse calls with UNAVAILABLE (which
# the JS exporter does not retry its way through: spans were lost). Every span
# must arrive exactly once (check.mjs), and the sender must really have had a
# burst in flight, or this test proves nothing.
source "$(dirname "$0")/lib.sh"
sdk_require

sdk_case burst-grpc traces grpc none --traces 5000 --spans-per-trace 20 --seed 7 --burst
line=$(grep -o 'at most [0-9]* in flight' "$WORK/burst-grpc-sender.log" || true)
max=$(echo "$line" | grep -o '[0-9]*')
[ -n "$max" ] || fail "the sender did not say how many exports were in flight"
[ "$max" -ge 30 ] || fail "only $max exports were in flight at once: no burst, nothing tested"
pass "burst-grpc: up to $max concurrent Export calls on one connection, none lost"

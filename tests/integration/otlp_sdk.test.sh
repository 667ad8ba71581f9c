#!/usr/bin/env bash
# End to end with the official OpenTelemetry JS SDK: traces and metrics over
# OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON, each uncompressed and
# gzip'd, through the otlp receiver and the batch processor to the file
# exporter. Every span and data point must arrive exactly once with every field
# intact (ids, times, kinds, status, events, links, flags, attribute types,
# resource and scope): tests/integration/sdk/check.mjs compares them.
source "$(dirname "$0")/lib.sh"
sdk_require

n=0
for proto in grpc http/protobuf http/json; do
  for comp in none gzip; do
    n=$((n + 1))
    sdk_case "traces-$n" traces "$proto" "$comp" --traces 100 --spans-per-trace 20 --seed "$n"
  done
done
for proto in grpc http/protobuf http/json; do
  for comp in none gzip; do
    n=$((n + 1))
    temporality=cumulative
    [ "$comp" = gzip ] && temporality=delta
    sdk_case "metrics-$n" metrics "$proto" "$comp" --temporality "$temporality" --series 40 \
      --rounds 3 --seed "$n"
  done
done

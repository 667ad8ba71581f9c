#!/usr/bin/env bash
# Issue 3's "must show": 100 000 spans from the OpenTelemetry JS SDK through
# each protocol (OTLP/gRPC, OTLP/HTTP protobuf, OTLP/HTTP JSON) arrive exactly
# once, every field intact. gRPC goes uncompressed, the HTTP ones gzip'd.
# Takes a few minutes on two cores.
source "$(dirname "$0")/lib.sh"
sdk_require

comp=none
for proto in grpc http/protobuf http/json; do
  sdk_case "100k-${proto//\//-}" traces "$proto" "$comp" --traces 5000 --spans-per-trace 20 --seed 100
  comp=gzip
done

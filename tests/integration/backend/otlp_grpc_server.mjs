#!/usr/bin/env node
// otlp_grpc_server.mjs -- an OTLP/gRPC backend for the exporter tests, built on
// @grpc/grpc-js: TraceService/Export and MetricsService/Export, messages
// decoded with protobufjs from the project's proto/. grpc-js itself handles
// the HTTP/2 transport and the gzip/deflate message encodings (not zstd or
// snappy: those are tested against a second pipit). What it stores and the
// fault script are described in otlp_backend.mjs.
//
//   otlp_grpc_server.mjs --port P --traces-out F --metrics-out F --log F
//       --ready F [--aside F] [--script STEPS]

import * as grpc from '@grpc/grpc-js';

import { Backend, WARMUP_HEADER, loadOtlp, parseBackendCli, toOtlpJson, warmUp } from './otlp_backend.mjs';

const opts = parseBackendCli();
const otlp = loadOtlp();
const samples = warmUp(otlp);
const backend = new Backend(opts);

const raw = (b) => b;
const PATHS = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};
function service(signal, path) {
  const { request, response } = otlp[signal];
  const empty = Buffer.from(response.encode(response.create({})).finish());
  const definition = {
    Export: {
      path, requestStream: false, responseStream: false,
      requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
    },
  };
  const Export = (call, callback) => {
    if (call.metadata.get(WARMUP_HEADER).length) return callback(null, empty);
    let req;
    try {
      req = toOtlpJson(request, request.decode(call.request));
    } catch (e) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode: ${e.message}` });
      return;
    }
    const step = backend.take(signal, call.request, req, 'grpc');
    switch (step.name) {
      case 'unavailable':
        callback({ code: grpc.status.UNAVAILABLE, details: 'scripted UNAVAILABLE' });
        break;
      case 'invalid':
        callback({ code: grpc.status.INVALID_ARGUMENT, details: step.arg || 'scripted INVALID_ARGUMENT' });
        break;
      case 'stall':
        setTimeout(() => callback(null, empty), Number(step.arg));
        break;
      default:
        callback(null, empty);
    }
  };
  return [definition, { Export }];
}

const server = new grpc.Server();
for (const [signal, path] of Object.entries(PATHS)) server.addService(...service(signal, path));

// One gzip'd call of each kind through a grpc-js client before saying ready:
// the server's first call is slow (code loaded and compiled on first use).
async function selfCall(port) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(),
    { 'grpc.default_compression_algorithm': 2 });
  for (const [signal, path] of Object.entries(PATHS)) {
    const md = new grpc.Metadata();
    md.set(WARMUP_HEADER, '1');
    await new Promise((resolve, reject) => client.makeUnaryRequest(path, raw, raw, samples[signal], md,
      (err) => (err ? reject(err) : resolve())));
  }
  client.close();
}
server.bindAsync(`127.0.0.1:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`cannot listen on 127.0.0.1:${opts.port}: ${err.message}`);
    process.exit(1);
  }
  selfCall(port).then(() => backend.ready({ port }), (e) => {
    console.error(`warm-up call failed: ${e.message}`);
    process.exit(1);
  });
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

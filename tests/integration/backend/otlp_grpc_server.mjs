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

import { Backend, loadOtlp, parseBackendCli, toOtlpJson, warmUp } from './otlp_backend.mjs';

const opts = parseBackendCli();
const otlp = loadOtlp();
warmUp(otlp);
const backend = new Backend(opts);

const raw = (b) => b;
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
server.addService(...service('traces', '/opentelemetry.proto.collector.trace.v1.TraceService/Export'));
server.addService(...service('metrics', '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export'));
server.bindAsync(`127.0.0.1:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`cannot listen on 127.0.0.1:${opts.port}: ${err.message}`);
    process.exit(1);
  }
  backend.ready({ port });
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

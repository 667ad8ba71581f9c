#!/usr/bin/env node
// otlp_http_server.mjs -- an OTLP/HTTP backend for the exporter tests, on
// node's http module: POST /v1/traces and /v1/metrics, protobuf
// (application/x-protobuf, decoded with protobufjs from the project's proto/)
// or JSON (application/json), Content-Encoding gzip, deflate or none (zstd and
// snappy answer 415: they are tested against a second pipit). Answers and
// errors as the OTLP/HTTP spec says: the Export*ServiceResponse, or a
// google.rpc.Status body in the request's encoding. What it stores and the
// fault script are described in otlp_backend.mjs.
//
//   otlp_http_server.mjs --port P --traces-out F --metrics-out F --log F
//       --ready F [--aside F] [--script STEPS]

import { createServer, request } from 'node:http';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';

import { Backend, WARMUP_HEADER, loadOtlp, parseBackendCli, toOtlpJson, warmUp } from './otlp_backend.mjs';

const opts = parseBackendCli();
const otlp = loadOtlp();
const samples = warmUp(otlp);
const backend = new Backend(opts);
const PATHS = { '/v1/traces': 'traces', '/v1/metrics': 'metrics' };

function answer(res, status, json, type, obj, headers = {}) {
  const body = json ? Buffer.from(JSON.stringify(obj)) : Buffer.from(type.encode(type.create(obj)).finish());
  res.writeHead(status, {
    'Content-Type': json ? 'application/json' : 'application/x-protobuf',
    'Content-Length': body.length,
    ...headers,
  });
  res.end(body);
}

function handle(req, res, body) {
  const signal = PATHS[req.url];
  if (req.method !== 'POST' || !signal) return answer(res, 404, false, otlp.status, { code: 5, message: 'not found' });
  const ctype = (req.headers['content-type'] ?? '').split(';')[0].trim();
  const json = ctype === 'application/json';
  if (!json && ctype !== 'application/x-protobuf') {
    return answer(res, 415, false, otlp.status, { code: 3, message: `unsupported content-type ${ctype}` });
  }
  const enc = req.headers['content-encoding'] ?? 'identity';
  let raw;
  try {
    raw = enc === 'gzip' ? gunzipSync(body) : enc === 'deflate' ? inflateSync(body) : enc === 'identity' ? body : null;
  } catch (e) {
    return answer(res, 400, json, otlp.status, { code: 3, message: `bad ${enc} body: ${e.message}` });
  }
  if (!raw) return answer(res, 415, json, otlp.status, { code: 3, message: `unsupported content-encoding ${enc}` });
  let otlpReq;
  try {
    otlpReq = json ? JSON.parse(raw.toString('utf8')) : toOtlpJson(otlp[signal].request, otlp[signal].request.decode(raw));
  } catch (e) {
    return answer(res, 400, json, otlp.status, { code: 3, message: `cannot decode: ${e.message}` });
  }
  if (req.headers[WARMUP_HEADER]) return answer(res, 200, json, otlp[signal].response, {});
  const step = backend.take(signal, raw, otlpReq, json ? 'http/json' : 'http/protobuf');
  const ok = () => answer(res, 200, json, otlp[signal].response, {});
  switch (step.name) {
    case 'unavailable':
      return answer(res, 503, json, otlp.status, { code: 14, message: 'scripted 503' },
        step.arg ? { 'Retry-After': step.arg } : {});
    case 'invalid':
      return answer(res, 400, json, otlp.status, { code: 3, message: step.arg || 'scripted 400' });
    case 'stall':
      return setTimeout(ok, Number(step.arg));
    default:
      return ok();
  }
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  req.on('error', () => res.destroy());
});
server.keepAliveTimeout = 60000;
server.on('error', (e) => {
  console.error(`cannot listen on 127.0.0.1:${opts.port}: ${e.message}`);
  process.exit(1);
});
// A gzip'd request of each signal and encoding to itself before saying
// ready: the first request is slow (code loaded and compiled on first use).
async function selfCall(port) {
  for (const [url, signal] of Object.entries(PATHS)) {
    const { request: type } = otlp[signal];
    const bodies = { 'application/x-protobuf': samples[signal],
      'application/json': Buffer.from(JSON.stringify(toOtlpJson(type, type.decode(samples[signal])))) };
    for (const [ctype, body] of Object.entries(bodies)) {
      const gz = gzipSync(body);
      await new Promise((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: url, method: 'POST', headers: {
          'Content-Type': ctype, 'Content-Encoding': 'gzip', 'Content-Length': gz.length, [WARMUP_HEADER]: '1',
        } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        });
        r.on('error', reject);
        r.end(gz);
      });
    }
  }
}
server.listen(Number(opts.port), '127.0.0.1', () => {
  const { port } = server.address();
  selfCall(port).then(() => backend.ready({ port }), (e) => {
    console.error(`warm-up request failed: ${e.message}`);
    process.exit(1);
  });
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

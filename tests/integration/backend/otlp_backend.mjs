// otlp_backend.mjs -- what the test backends (otlp_grpc_server.mjs,
// otlp_http_server.mjs) share: the OTLP messages loaded from the project's
// proto/ with protobufjs, the conversion of a decoded request to the OTLP/JSON
// shape that sdk/check.mjs reads (the shape of pipit's `file` exporter), the
// fault script, and the files a backend writes.
//
// Files (every line is written whole with one appendFileSync):
//   --traces-out / --metrics-out  one OTLP/JSON request per line, for each
//       request the backend answered OK: what a real backend stored.
//   --aside  the requests the backend processed but did not acknowledge OK:
//       rejected with a permanent error (invalid), or stalled past the
//       client's timeout (stall). Tests take them into account explicitly.
//   --log  one line per request: {seq, t (ms since the epoch), signal,
//       items, sha (sha256 of the decompressed body), action}.
//   --ready  written once the server listens.
//
// Fault script (--script): comma-separated steps, applied to requests in the
// order they arrive (step i to request i); requests past the script are
// answered OK. A step is NAME or NAME:ARG:
//   ok
//   unavailable[:S]  gRPC UNAVAILABLE / HTTP 503 (with Retry-After: S if given)
//   invalid[:MSG]    gRPC INVALID_ARGUMENT / HTTP 400, with MSG as the
//                    google.rpc.Status message; the data goes to --aside
//   stall:MS         keep the data (--aside), answer OK after MS milliseconds

import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import protobuf from 'protobufjs';

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');

export function loadOtlp() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync([
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    'google/rpc/status.proto',
  ]);
  const t = (name) => root.lookupType(name);
  return {
    traces: {
      request: t('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      response: t('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    },
    metrics: {
      request: t('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
      response: t('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
    },
    status: t('google.rpc.Status'),
  };
}

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

// OTLP/JSON ids are hex, other bytes base64 (protobufjs gives base64).
function hexIds(v) {
  if (Array.isArray(v)) return v.forEach(hexIds);
  if (!v || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v)) {
    if (ID_FIELDS.has(k) && typeof x === 'string') v[k] = Buffer.from(x, 'base64').toString('hex');
    else hexIds(x);
  }
}

// A decoded protobuf request as OTLP/JSON (int64 as decimal strings, enums
// as numbers, fields left out when not on the wire).
export function toOtlpJson(type, msg) {
  const obj = type.toObject(msg, { longs: String, enums: Number, bytes: String, defaults: false });
  hexIds(obj);
  return obj;
}

// Decodes one request of each signal with every message type in it, so that
// protobufjs generates its code before the first real request (a cold
// backend may otherwise answer it later than an exporter's timeout). Returns
// the encoded requests, {traces, metrics}, for a call to the server itself.
// A request with the header WARMUP_HEADER is answered OK and not recorded.
export const WARMUP_HEADER = 'x-pipit-test-warmup';
export function warmUp(otlp) {
  const kv = [{ key: 'k', value: { arrayValue: { values: [{ kvlistValue: { values: [{ key: 'b', value: { bytesValue: 'AQ==' } }] } }] } } }];
  const resource = { attributes: kv };
  const samples = {
    traces: { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 's', attributes: kv }, spans: [{
      traceId: 'AAAAAAAAAAAAAAAAAAAAAQ==', spanId: 'AAAAAAAAAAE=', attributes: kv, status: { code: 1 },
      events: [{ name: 'e', attributes: kv }], links: [{ traceId: 'AAAAAAAAAAAAAAAAAAAAAQ==', attributes: kv }],
    }] }] }] },
    metrics: { resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 's' }, metrics: [
      { name: 'a', sum: { dataPoints: [{ asInt: 1, attributes: kv, exemplars: [{ asDouble: 1 }] }] } },
      { name: 'b', gauge: { dataPoints: [{ asDouble: 1.5 }] } },
      { name: 'c', histogram: { dataPoints: [{ count: 1, bucketCounts: [1], explicitBounds: [] }] } },
      { name: 'd', exponentialHistogram: { dataPoints: [{ positive: { bucketCounts: [1] } }] } },
      { name: 'e', summary: { dataPoints: [{ quantileValues: [{ quantile: 0.5 }] }] } },
    ] }] }] },
  };
  const encoded = {};
  for (const [signal, obj] of Object.entries(samples)) {
    const { request, response } = otlp[signal];
    encoded[signal] = Buffer.from(request.encode(request.fromObject(obj)).finish());
    countItems(signal, toOtlpJson(request, request.decode(encoded[signal])));
    response.decode(response.encode(response.create({})).finish());
  }
  otlp.status.decode(otlp.status.encode(otlp.status.create({ code: 3, message: 'x' })).finish());
  return encoded;
}

export function countItems(signal, req) {
  let n = 0;
  if (signal === 'traces') {
    for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += (ss.spans ?? []).length;
    return n;
  }
  for (const rm of req.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const d = m.sum ?? m.gauge ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
        n += (d?.dataPoints ?? []).length;
      }
    }
  }
  return n;
}

export function parseScript(text) {
  if (!text) return [];
  return text.split(',').map((step) => {
    const i = step.indexOf(':');
    const name = i < 0 ? step : step.slice(0, i);
    const arg = i < 0 ? '' : step.slice(i + 1);
    if (!['ok', 'unavailable', 'invalid', 'stall'].includes(name)) throw new Error(`unknown script step ${step}`);
    if (name === 'stall' && !(Number(arg) > 0)) throw new Error(`stall needs milliseconds: ${step}`);
    return { name, arg };
  });
}

export const COMMON_OPTIONS = {
  port: { type: 'string' },
  'traces-out': { type: 'string' },
  'metrics-out': { type: 'string' },
  aside: { type: 'string' },
  log: { type: 'string' },
  ready: { type: 'string' },
  script: { type: 'string', default: '' },
};

export function parseBackendCli(extra = {}) {
  const { values } = parseArgs({ options: { ...COMMON_OPTIONS, ...extra }, strict: true });
  for (const k of ['port', 'traces-out', 'metrics-out', 'log', 'ready']) {
    if (!values[k]) {
      console.error(`--${k} is required`);
      process.exit(2);
    }
  }
  return values;
}

// Decides and records the fate of each request.
export class Backend {
  constructor(opts) {
    this.opts = opts;
    this.script = parseScript(opts.script);
    this.seq = 0;
    for (const f of [opts['traces-out'], opts['metrics-out'], opts.log, opts.aside]) if (f) writeFileSync(f, '');
  }

  // The step for the next request, logged with what it held. `raw` is the
  // decompressed body; `req` the request in OTLP/JSON form.
  take(signal, raw, req, transport) {
    const seq = ++this.seq;
    const step = this.script[seq - 1] ?? { name: 'ok', arg: '' };
    const items = countItems(signal, req);
    const line = `${JSON.stringify(req)}\n`;
    if (step.name === 'ok') appendFileSync(this.opts[`${signal}-out`], line);
    else if ((step.name === 'invalid' || step.name === 'stall') && this.opts.aside) appendFileSync(this.opts.aside, line);
    appendFileSync(this.opts.log, `${JSON.stringify({
      seq, t: performance.timeOrigin + performance.now(), signal, items, transport,
      sha: createHash('sha256').update(raw).digest('hex'), action: step.arg ? `${step.name}:${step.arg}` : step.name,
    })}\n`);
    return step;
  }

  ready(info) {
    writeFileSync(this.opts.ready, `${JSON.stringify(info)}\n`);
  }
}

#!/usr/bin/env node
// send_traces.mjs -- sends realistic traces with the official OpenTelemetry JS
// SDK (BasicTracerProvider + BatchSpanProcessor + an OTLP exporter) and writes
// what it sent, span by span, to --out for check.mjs.
//
// Exits 1 if any export failed, if the SDK logged a warning or an error (a
// dropped span, an invalid attribute), or if fewer spans were acknowledged than
// were made.

import * as api from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';

import {
  CheckedExporter, checkTransportArgs, attrsFromJs, die, exporterUrl, hrTime, installDiag, parseCli,
  prng, sleep, writeLines,
} from './common.mjs';

const USAGE = `usage: send_traces.mjs --protocol grpc|http/protobuf|http/json --endpoint URL
       [--compression none|gzip] [--traces N] [--spans-per-trace M] [--seed S] [--burst]
       [--batch N] [--sequential [--interval-ms MS]] --out FILE

--burst: let span making run far ahead of exporting (60 batches of 512 spans,
about 1 MiB each), so that forceFlush sends them at once: 60 concurrent Export
calls on one connection. Not more: past its concurrencyLimit (64) the SDK's
exporter fails exports itself, before they reach the receiver.

--batch: spans per export of the batch processor (default 512); bigger
batches mean fewer requests for the same spans.

--sequential: no batch processor: each trace is one export request, and the
next trace is made only once the previous request was acknowledged, so at most
one request is ever in flight, on one connection. The acknowledgement order is
then the order of --out, and check.mjs --order can check that the receiving
end got the spans in that order. --interval-ms waits that long between two
requests (to spread them over a time window).`;

const args = parseCli({
  protocol: { type: 'string' },
  endpoint: { type: 'string' },
  compression: { type: 'string', default: 'none' },
  traces: { type: 'string', default: '100' },
  'spans-per-trace': { type: 'string', default: '20' },
  seed: { type: 'string', default: '1' },
  out: { type: 'string' },
  burst: { type: 'boolean', default: false },
  batch: { type: 'string', default: '512' },
  sequential: { type: 'boolean', default: false },
  'interval-ms': { type: 'string', default: '0' },
}, USAGE);
checkTransportArgs(args, USAGE);
const nTraces = Number(args.traces);
const perTrace = Number(args['spans-per-trace']);
const seed = Number(args.seed);
if (!(nTraces > 0 && perTrace > 0 && Number.isInteger(nTraces * perTrace))) die('bad --traces/--spans-per-trace');
const total = nTraces * perTrace;
const BATCH = Number(args.batch);
const sequential = args.sequential;
const intervalMs = Number(args['interval-ms']);
if (!(BATCH > 0 && Number.isInteger(BATCH))) die('bad --batch');
if (!(intervalMs >= 0)) die('bad --interval-ms');
if (sequential && args.burst) die('--sequential and --burst exclude each other');
const backlog = args.burst ? 60 * BATCH : 4096; // spans made but not yet handed to the exporter

const problems = installDiag(api);
const rnd = prng(seed);

// ---- the SDK pipeline ----

const exporterConfig = {
  url: exporterUrl(args.protocol, args.endpoint, 'traces'),
  compression: args.compression,
  timeoutMillis: 30000,
  concurrencyLimit: 64,
};
const inner = args.protocol === 'grpc' ? new GrpcExporter(exporterConfig)
  : args.protocol === 'http/protobuf' ? new ProtoExporter(exporterConfig)
    : new JsonExporter(exporterConfig);
const exporter = new CheckedExporter(inner, (spans) => spans.length);

const resourceAttrs = {
  'service.name': 'pipit-it-sender',
  'service.version': '1.2.3',
  'service.instance.id': `seed-${seed}`,
  'deployment.environment.name': 'integration-test',
  'host.name': 'ci-runner',
  'process.pid': process.pid,
  'process.runtime.name': 'nodejs',
  'pipit.test.resource.double': 2.5,
  'pipit.test.resource.bool': true,
  'pipit.test.resource.strings': ['a', 'b'],
  // Not settable through the span API, but the exporters encode them:
  // bytesValue and kvlistValue reach pipit this way.
  'pipit.test.resource.bytes': new Uint8Array([0, 1, 2, 0xfe, 0xff]),
  'pipit.test.resource.kvlist': { nested: 'value', depth: 1, inner: { ok: true } },
};
const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.26.0';
const resource = resourceFromAttributes(resourceAttrs, { schemaUrl: SCHEMA_URL });

let nextIds = [];
const idGenerator = {
  generateTraceId: () => rnd.hex(16),
  generateSpanId: () => {
    const id = rnd.hex(8);
    nextIds.push(id);
    return id;
  },
};

// --sequential: ended spans collect here, and the main loop exports each
// trace itself, one request at a time.
const ended = [];
const collector = {
  onStart() {}, onEnd(span) { ended.push(span); }, forceFlush: async () => {}, shutdown: async () => {},
};
const provider = new BasicTracerProvider({
  resource,
  idGenerator,
  spanProcessors: [sequential ? collector : new BatchSpanProcessor(exporter, {
    maxQueueSize: total + 1024,
    maxExportBatchSize: BATCH,
    scheduledDelayMillis: 50,
    exportTimeoutMillis: 60000,
  })],
});

const scopes = [
  { name: 'pipit-it/http-server', version: '1.0.0', schemaUrl: SCHEMA_URL },
  { name: 'pipit-it/db-client', version: '0.9.1-beta.2' },
  { name: 'pipit-it/no-version' },
];
const tracers = scopes.map((s) => provider.getTracer(s.name, s.version, { schemaUrl: s.schemaUrl }));

// ---- the spans ----

const KINDS = [api.SpanKind.SERVER, api.SpanKind.INTERNAL, api.SpanKind.CLIENT, api.SpanKind.PRODUCER,
  api.SpanKind.CONSUMER];
const TEXT = ['', 'plain', 'héllo wörld ✓ 日本語 🚀', 'quote " backslash \\ newline \n tab \t ctl \u0001',
  'x'.repeat(300)];
// Not integral: the exporters send integral numbers as intValue.
const DOUBLES = [0.1 + 0.2, -1.5, 1e-300, 123456.78901234567, 3.141592653589793, 2.5e-8];

function spanAttributes(seq, i) {
  const a = {
    'http.request.method': ['GET', 'POST', 'PUT', 'DELETE'][seq % 4],
    'url.path': `/api/v1/items/${seq}`,
    'http.response.status_code': 200 + (seq % 5) * 100,
    'pipit.seq': seq,
    'pipit.test.int.negative': -(seq + 1),
    'pipit.test.int.max_safe': Number.MAX_SAFE_INTEGER - seq,
    'pipit.test.bool': seq % 2 === 0,
    'pipit.test.double': DOUBLES[seq % DOUBLES.length],
    'pipit.test.double.fraction': seq + 0.25,
    'pipit.test.string': TEXT[seq % TEXT.length],
  };
  if (i % 2 === 0) {
    a['pipit.test.array.string'] = ['alpha', '', 'γάμμα'];
    a['pipit.test.array.bool'] = [true, false, true];
    a['pipit.test.array.int'] = [1, -2, Number.MIN_SAFE_INTEGER, seq];
    a['pipit.test.array.double'] = [1.5, -0.25, 1e-300];
    a['pipit.test.array.with_null'] = ['x', null, 'z'];
    a['pipit.test.array.empty'] = [];
  }
  return a;
}

const expected = [];
const t0 = BigInt(Date.now() - 60000) * 1000000n + 123n; // odd nanoseconds on purpose

function expectEvent(name, timeNs, attributes) {
  return { name, timeUnixNano: String(timeNs), attributes: attrsFromJs(attributes), droppedAttributesCount: 0 };
}

function makeTrace(t) {
  // Every third trace continues a remote parent with a tracestate.
  let parentCtx = api.ROOT_CONTEXT;
  let remote = null;
  if (t % 3 === 0) {
    remote = {
      traceId: rnd.hex(16), spanId: rnd.hex(8), traceFlags: api.TraceFlags.SAMPLED, isRemote: true,
      traceState: api.createTraceState(`pipit=t${t},vendor=abc`),
    };
    parentCtx = api.trace.setSpanContext(api.ROOT_CONTEXT, remote);
  }
  const traceStart = t0 + BigInt(t) * 1000003n;
  const made = []; // [span, expected record]
  for (let i = 0; i < perTrace; i++) {
    const seq = t * perTrace + i;
    const parent = i === 0 ? null : made[i === 1 ? 0 : rnd.int(i)];
    const ctx = parent ? api.trace.setSpan(parentCtx, parent[0]) : parentCtx;
    const kind = i === 0 ? api.SpanKind.SERVER : KINDS[(seq + i) % KINDS.length];
    const scope = scopes[i === 0 ? 0 : 1 + (seq % 2)];
    const tracer = tracers[scopes.indexOf(scope)];
    const start = traceStart + BigInt(i) * 1009n + BigInt(rnd.int(1000));
    const end = start + 1000n + BigInt(rnd.int(999999999));
    const attributes = spanAttributes(seq, i);

    const links = [];
    if (seq % 5 === 2) {
      links.push({
        context: { traceId: rnd.hex(16), spanId: rnd.hex(8), traceFlags: api.TraceFlags.SAMPLED, isRemote: true,
          traceState: api.createTraceState('linked=yes') },
        attributes: { 'link.reason': 'follows-from', 'link.index': 0, 'link.weight': 0.75 },
      });
      links.push({
        context: { traceId: rnd.hex(16), spanId: rnd.hex(8), traceFlags: api.TraceFlags.NONE },
      });
    }

    nextIds = [];
    const name = `${['GET', 'POST', 'PUT', 'DELETE'][seq % 4]} /api/v1/items/{id} #${i}`;
    const span = tracer.startSpan(name, { kind, attributes, links, startTime: hrTime(start) }, ctx);
    const sc = span.spanContext();
    if (nextIds.length !== 1 || nextIds[0] !== sc.spanId) die('the id generator was not used as expected');

    const events = [];
    const nEvents = seq % 3;
    for (let e = 0; e < nEvents; e++) {
      const at = start + BigInt(e + 1) * 7n;
      const ea = { 'cache.hit': e % 2 === 0, 'cache.key': `k-${seq}-${e}`, 'cache.size': e * 1024, 'cache.ratio': 0.5 + e };
      span.addEvent(`cache.lookup.${e}`, ea, hrTime(at));
      events.push(expectEvent(`cache.lookup.${e}`, at, ea));
    }
    let status = { code: 0, message: '' };
    if (seq % 7 === 3) {
      const err = new TypeError(`item ${seq} is not iterable`);
      const at = end - 5n;
      span.recordException(err, hrTime(at));
      events.push(expectEvent('exception', at, {
        'exception.type': 'TypeError', 'exception.message': err.message, 'exception.stacktrace': err.stack,
      }));
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: `failed: ${err.message}` });
      status = { code: 2, message: `failed: ${err.message}` };
    } else if (seq % 7 === 1) {
      span.setStatus({ code: api.SpanStatusCode.OK });
      status = { code: 1, message: '' };
    }
    span.end(hrTime(end));

    const parentSpanId = parent ? parent[1].spanId : remote ? remote.spanId : '';
    const isRemoteParent = !parent && remote !== null;
    expected.push({
      traceId: sc.traceId,
      spanId: sc.spanId,
      parentSpanId,
      traceState: remote ? remote.traceState.serialize() : '',
      // W3C flags in the low byte, then HAS_IS_REMOTE and IS_REMOTE (OTLP 1.x)
      flags: (sc.traceFlags & 0xff) | 0x100 | (isRemoteParent ? 0x200 : 0),
      name,
      kind: kind + 1,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(end),
      attributes: attrsFromJs(attributes),
      droppedAttributesCount: 0,
      events,
      droppedEventsCount: 0,
      links: links.map((l) => ({
        traceId: l.context.traceId,
        spanId: l.context.spanId,
        traceState: l.context.traceState ? l.context.traceState.serialize() : '',
        flags: (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0),
        attributes: attrsFromJs(l.attributes),
        droppedAttributesCount: 0,
      })),
      droppedLinksCount: 0,
      status,
      resource: 0,
      scope: { name: scope.name, version: scope.version ?? '', schemaUrl: scope.schemaUrl ?? '' },
    });
    made.push([span, expected[expected.length - 1]]);
  }
}

const began = Date.now();
for (let t = 0; t < nTraces; t++) {
  makeTrace(t);
  if (sequential) {
    const batch = ended.splice(0);
    if (batch.length !== perTrace) die(`trace ${t}: ${batch.length} spans ended, expected ${perTrace}`);
    await new Promise((resolve) => exporter.export(batch, resolve));
    if (intervalMs > 0 && t + 1 < nTraces) await sleep(intervalMs);
    continue;
  }
  // Pace the making to the exporting, as a real application's load would be:
  // the batch processor exports one batch at a time, but forceFlush sends all
  // that is queued at once, which would be a burst of hundreds of requests.
  // --burst lets the queue grow to 60 batches, so forceFlush sends that burst.
  if ((t + 1) % 25 === 0) {
    await new Promise((r) => setImmediate(r));
    for (let w = 0; expected.length - exporter.handed > backlog && w < 600000; w++) await sleep(1);
  }
}
const flushErrors = [];
for (const step of ['forceFlush', 'shutdown']) {
  try {
    await provider[step]();
  } catch (e) {
    flushErrors.push(`${step}: ${[e].flat().map((x) => x?.stack ?? String(x)).join('; ')}`);
  }
}
if (sequential) {
  try {
    await exporter.shutdown(); // the provider's shutdown only reached the collector
  } catch (e) {
    flushErrors.push(`exporter shutdown: ${e?.stack ?? String(e)}`);
  }
}
const secs = (Date.now() - began) / 1000;

const header = {
  signal: 'traces',
  protocol: args.protocol,
  compression: args.compression,
  count: total,
  // --sequential: the records are in acknowledgement order (check.mjs --order)
  sequential,
  resources: [{ attributes: attrsFromJs(resource.attributes), schemaUrl: SCHEMA_URL }],
};
await writeLines(args.out, header, expected);

const errors = [...exporter.failures, ...flushErrors, ...problems];
if (exporter.exported !== total) errors.push(`${exporter.exported} of ${total} spans acknowledged`);
if (errors.length > 0) {
  console.error(`send_traces: ${errors.length} problem(s) (${args.protocol}, ${args.compression}):`);
  for (const e of errors.slice(0, 20)) console.error(`  ${e}`);
  process.exit(1);
}
console.log(`send_traces: ${total} spans in ${exporter.calls} exports over ${args.protocol} ` +
  `(${args.compression}) in ${secs.toFixed(2)}s, at most ${exporter.maxInflight} in flight`);

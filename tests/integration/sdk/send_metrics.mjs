#!/usr/bin/env node
// send_metrics.mjs -- records metrics with the official OpenTelemetry JS SDK
// (MeterProvider + PeriodicExportingMetricReader + an OTLP exporter), exports
// them in --rounds collections, and writes every exported data point to --out
// for check.mjs.
//
// Instruments: an int counter and a double counter (monotonic sums), an int
// up-down counter (non-monotonic sum), an observable double gauge and a double
// histogram with explicit buckets, each with --series attribute sets, in two
// scopes. --temporality delta|cumulative picks the exporter's preference.
//
// The data points written to --out are the ones the exporter was handed; the
// sender also checks them against values it computes itself, so the expected
// file says what the test means it to. Exits 1 on any export failure, SDK
// warning or error, or disagreement.

import * as api from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, DataPointType, AggregationTemporality }
  from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonExporter, AggregationTemporalityPreference }
  from '@opentelemetry/exporter-metrics-otlp-http';

import {
  CheckedExporter, checkTransportArgs, attrsFromJs, canonical, die, exporterUrl, hrToNs, installDiag,
  parseCli, writeLines,
} from './common.mjs';

const USAGE = `usage: send_metrics.mjs --protocol grpc|http/protobuf|http/json --endpoint URL
       [--compression none|gzip] [--temporality cumulative|delta] [--series K] [--rounds R]
       [--seed S] --out FILE
  exports R x 5 x K data points (--count N: the smallest K with at least N points)`;

const args = parseCli({
  protocol: { type: 'string' },
  endpoint: { type: 'string' },
  compression: { type: 'string', default: 'none' },
  temporality: { type: 'string', default: 'cumulative' },
  series: { type: 'string', default: '20' },
  rounds: { type: 'string', default: '3' },
  count: { type: 'string' },
  seed: { type: 'string', default: '1' },
  out: { type: 'string' },
}, USAGE);
checkTransportArgs(args, USAGE);
if (!['cumulative', 'delta'].includes(args.temporality)) die('--temporality must be cumulative or delta');
const rounds = Number(args.rounds);
const INSTRUMENTS = 5;
const series = args.count ? Math.ceil(Number(args.count) / (rounds * INSTRUMENTS)) : Number(args.series);
const seed = Number(args.seed);
if (!(rounds > 0 && series > 0 && Number.isInteger(rounds * series))) die('bad --rounds/--series/--count');
const delta = args.temporality === 'delta';

const problems = installDiag(api);

// ---- the SDK pipeline ----

const expected = [];
const keys = new Set();
const scopeOf = new Map();

// What the exporter was handed, as normalized data points.
function record(resourceMetrics) {
  for (const sm of resourceMetrics.scopeMetrics) {
    const scope = { name: sm.scope.name, version: sm.scope.version ?? '', schemaUrl: sm.scope.schemaUrl ?? '' };
    for (const m of sm.metrics) {
      const d = m.descriptor;
      const metric = { name: d.name, description: d.description ?? '', unit: d.unit ?? '' };
      if (m.dataPointType === DataPointType.SUM) {
        Object.assign(metric, { type: 'sum', isMonotonic: m.isMonotonic });
      } else if (m.dataPointType === DataPointType.GAUGE) {
        metric.type = 'gauge';
      } else if (m.dataPointType === DataPointType.HISTOGRAM) {
        metric.type = 'histogram';
      } else {
        throw new Error(`unexpected data point type ${m.dataPointType} for ${d.name}`);
      }
      if (metric.type !== 'gauge') {
        metric.aggregationTemporality = m.aggregationTemporality === AggregationTemporality.DELTA ? 1 : 2;
      }
      for (const p of m.dataPoints) {
        const point = {
          resource: 0,
          scope,
          metric,
          attributes: attrsFromJs(p.attributes),
          startTimeUnixNano: String(hrToNs(p.startTime)),
          timeUnixNano: String(hrToNs(p.endTime)),
          flags: 0,
        };
        if (metric.type === 'histogram') {
          const h = p.value;
          point.histogram = {
            count: String(h.count),
            sum: h.sum,
            min: h.min,
            max: h.max,
            bucketCounts: h.buckets.counts.map(String),
            explicitBounds: h.buckets.boundaries,
          };
        } else if (d.valueType === api.ValueType.INT) {
          point.value = { i: String(p.value) };
        } else {
          point.value = { d: p.value };
        }
        const key = pointKey(point);
        if (keys.has(key)) throw new Error(`two exported points share the key ${key}`);
        keys.add(key);
        scopeOf.set(key, scope.name);
        expected.push(point);
      }
    }
  }
}

function pointKey(p) {
  return `${p.scope.name}|${p.metric.name}|${canonical(p.attributes)}|${p.timeUnixNano}`;
}

const exporterConfig = {
  url: exporterUrl(args.protocol, args.endpoint, 'metrics'),
  compression: args.compression,
  timeoutMillis: 30000,
  temporalityPreference: delta ? AggregationTemporalityPreference.DELTA
    : AggregationTemporalityPreference.CUMULATIVE,
};
const inner = args.protocol === 'grpc' ? new GrpcExporter(exporterConfig)
  : args.protocol === 'http/protobuf' ? new ProtoExporter(exporterConfig)
    : new JsonExporter(exporterConfig);
const countPoints = (rm) => rm.scopeMetrics.reduce(
  (n, sm) => n + sm.metrics.reduce((k, m) => k + m.dataPoints.length, 0), 0);
const exporter = new CheckedExporter(inner, countPoints, record);

const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.26.0';
const resource = resourceFromAttributes({
  'service.name': 'pipit-it-metrics',
  'service.version': '2.0.0',
  'service.instance.id': `seed-${seed}`,
  'host.name': 'ci-runner',
  'process.pid': process.pid,
  'pipit.test.resource.double': 0.125,
  'pipit.test.resource.bool': false,
  'pipit.test.resource.ints': [1, 2, 3],
}, { schemaUrl: SCHEMA_URL });

const reader = new PeriodicExportingMetricReader({
  exporter,
  exportIntervalMillis: 3600000, // rounds are exported by forceFlush
  exportTimeoutMillis: 60000,
});
const provider = new MeterProvider({ resource, readers: [reader] });

// ---- instruments ----

const BOUNDS = [0, 5, 10, 25, 50, 100, 250, 500, 1000];
const http = provider.getMeter('pipit-it/http', '1.4.0', { schemaUrl: SCHEMA_URL });
const jobs = provider.getMeter('pipit-it/jobs', '0.1.0');
const requests = http.createCounter('pipit.it.requests',
  { description: 'Requests handled', unit: '{request}', valueType: api.ValueType.INT });
const bytesSent = http.createCounter('pipit.it.bytes_sent',
  { description: 'Bytes sent', unit: 'By', valueType: api.ValueType.DOUBLE });
const latency = http.createHistogram('pipit.it.latency',
  { description: 'Request latency', unit: 'ms', advice: { explicitBucketBoundaries: BOUNDS } });
const active = jobs.createUpDownCounter('pipit.it.active_jobs',
  { description: 'Jobs running', unit: '{job}', valueType: api.ValueType.INT });
const temperature = jobs.createObservableGauge('pipit.it.temperature',
  { description: 'Worker temperature', unit: 'Cel', valueType: api.ValueType.DOUBLE });

const attrSets = [];
for (let k = 0; k < series; k++) {
  attrSets.push({
    'http.route': `/r/${k}`,
    'http.response.status_code': 200 + (k % 3),
    'pipit.ok': k % 2 === 0,
    'pipit.ratio': k + 0.5,
    ...(k % 4 === 0 ? { 'pipit.tags': ['a', 'b'] } : {}),
  });
}

// The model: what each point must say, computed here, not read from the SDK.
const model = new Map(); // `${name}|${k}|${round}` -> value or histogram summary
let round = 0;
temperature.addCallback((obs) => {
  for (let k = 0; k < series; k++) obs.observe(20 + k + round * 0.5 + 0.25, attrSets[k]);
});

const samples = (k, r) => [((k * 7 + r * 13) % 1200) + 0.5, (k * 3 + r) % 60, 0.001 * (k + 1)];
const totals = new Map();
const add = (key, v) => totals.set(key, (totals.get(key) ?? 0) + v);
const histAcc = new Map();

const began = Date.now();
for (round = 0; round < rounds; round++) {
  for (let k = 0; k < series; k++) {
    const a = attrSets[k];
    const inc = k + round + 1;
    requests.add(inc, a);
    bytesSent.add(inc * 1.5, a);
    active.add(round % 2 === 0 ? k + 2 : -1, a);
    for (const v of samples(k, round)) latency.record(v, a);

    // the model
    add(`requests|${k}`, inc);
    add(`bytes|${k}`, inc * 1.5);
    add(`active|${k}`, round % 2 === 0 ? k + 2 : -1);
    const h = histAcc.get(k) && !delta ? histAcc.get(k) : { count: 0, sum: 0, min: Infinity, max: -Infinity, buckets: new Array(BOUNDS.length + 1).fill(0) };
    for (const v of samples(k, round)) {
      h.count++; h.sum += v; h.min = Math.min(h.min, v); h.max = Math.max(h.max, v);
      let b = BOUNDS.findIndex((x) => v <= x);
      if (b < 0) b = BOUNDS.length;
      h.buckets[b]++;
    }
    histAcc.set(k, h);
    model.set(`pipit.it.requests|${k}|${round}`, delta ? inc : totals.get(`requests|${k}`));
    model.set(`pipit.it.bytes_sent|${k}|${round}`, delta ? inc * 1.5 : totals.get(`bytes|${k}`));
    model.set(`pipit.it.active_jobs|${k}|${round}`, totals.get(`active|${k}`)); // always cumulative
    model.set(`pipit.it.temperature|${k}|${round}`, 20 + k + round * 0.5 + 0.25);
    model.set(`pipit.it.latency|${k}|${round}`, { ...h, buckets: [...h.buckets] });
  }
  const before = expected.length;
  try {
    await reader.forceFlush();
  } catch (e) {
    exporter.failures.push(`forceFlush: ${e?.stack ?? e}`);
  }
  // Check this round's points against the model.
  const got = expected.slice(before);
  if (got.length !== INSTRUMENTS * series) {
    problems.push(`round ${round}: ${got.length} points exported, expected ${INSTRUMENTS * series}`);
  }
  for (const p of got) {
    const k = Number(p.attributes['http.route'].s.slice(3));
    const want = model.get(`${p.metric.name}|${k}|${round}`);
    let ok;
    if (p.histogram) {
      const h = p.histogram;
      ok = h.count === String(want.count) && Math.abs(h.sum - want.sum) < 1e-9 && h.min === want.min &&
        h.max === want.max && h.bucketCounts.join() === want.buckets.join() && h.explicitBounds.join() === BOUNDS.join();
    } else {
      ok = Math.abs(Number(p.value.i ?? p.value.d) - want) < 1e-9;
    }
    if (!ok) problems.push(`round ${round}: ${p.metric.name} series ${k}: SDK exported ${JSON.stringify(p.value ?? p.histogram)}, model says ${JSON.stringify(want)}`);
  }
}
try {
  await provider.shutdown();
} catch (e) {
  exporter.failures.push(`shutdown: ${e?.stack ?? e}`);
}
const secs = (Date.now() - began) / 1000;

// shutdown() collects once more: those points are sent too, and expected.
const header = {
  signal: 'metrics',
  protocol: args.protocol,
  compression: args.compression,
  temporality: args.temporality,
  count: expected.length,
  resources: [{ attributes: attrsFromJs(resource.attributes), schemaUrl: SCHEMA_URL }],
};
await writeLines(args.out, header, expected);

const errors = [...exporter.failures, ...problems];
if (exporter.exported !== expected.length) {
  errors.push(`${exporter.exported} of ${expected.length} data points acknowledged`);
}
if (errors.length > 0) {
  console.error(`send_metrics: ${errors.length} problem(s) (${args.protocol}, ${args.compression}, ${args.temporality}):`);
  for (const e of errors.slice(0, 20)) console.error(`  ${e}`);
  process.exit(1);
}
console.log(`send_metrics: ${expected.length} data points in ${exporter.calls} exports over ` +
  `${args.protocol} (${args.compression}, ${args.temporality}) in ${secs.toFixed(2)}s`);

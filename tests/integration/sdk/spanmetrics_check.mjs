#!/usr/bin/env node
// spanmetrics_check.mjs -- checks the RED metrics a Prometheus server holds
// (written by pipit's spanmetrics connector through prometheusremotewrite)
// against the spans send_traces.mjs says it sent (its --out file), computed
// here independently from each span's kind, status, start and end:
//   - traces_span_metrics_calls_total per (service, span name, kind, status)
//     equals the number of such spans, and no other series exists;
//   - traces_span_metrics_duration_milliseconds: every _bucket of every series
//     (cumulative, default bounds 2ms ... 15s, upper-inclusive), _count, _sum;
//   - histogram_quantile(q) per series and over all series equals the quantile
//     computed here the way Prometheus computes it;
//   - rate() over the calls is positive.
// --expected A,B: the spans of several sends, added up.
// --wait N: poll up to N seconds until the calls add up to the spans sent.
// Exits 1 listing the differences.

import { readFileSync } from 'node:fs';
import { parseCli, die } from './common.mjs';

const USAGE = 'usage: spanmetrics_check.mjs --prom URL --expected FILE [--window 5m] [--wait 60]';
const args = parseCli({
  prom: { type: 'string' }, expected: { type: 'string' }, window: { type: 'string', default: '5m' },
  wait: { type: 'string', default: '60' },
}, USAGE);
if (!args.prom || !args.expected) die(USAGE);

// --expected: one file or several, comma-separated (rounds sent one after
// the other into the same series).
const spans = [];
let service = null;
for (const f of args.expected.split(',')) {
  const lines = readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const svc = lines[0].resources[0].attributes['service.name'].s;
  if (service !== null && svc !== service) die('the expected files name different services');
  service = svc;
  spans.push(...lines.slice(1));
}

const KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
// The connector's default explicit bounds, in ms.
const BOUNDS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000];
const CALLS = 'traces_span_metrics_calls_total';
const DUR = 'traces_span_metrics_duration_milliseconds';

// ---- expected, from the spans ----
const key = (svc, name, kind, status) => JSON.stringify([svc, name, kind, status]);
const want = new Map();
for (const s of spans) {
  const k = key(service, s.name, KINDS[s.kind], STATUS[s.status.code]);
  let w = want.get(k);
  if (!w) want.set(k, (w = { calls: 0, sum: 0, buckets: new Array(BOUNDS.length + 1).fill(0) }));
  const ns = BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano);
  let b = BOUNDS.findIndex((ub) => ns <= BigInt(ub) * 1000000n);
  if (b < 0) b = BOUNDS.length;
  w.calls++;
  w.sum += Number(ns) / 1e6;
  w.buckets[b]++;
}
for (const w of want.values()) {
  w.cum = [];
  w.buckets.reduce((acc, c, i) => (w.cum[i] = acc + c), 0);
}

// ---- PromQL ----
const problems = [];
let queries = 0;
async function query(q) {
  queries++;
  const r = await fetch(`${args.prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = await r.json();
  if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}
const close = (a, b, rel = 1e-9) => a === b || Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));
const labelsKey = (m) => key(m.service_name, m.span_name, m.span_kind, m.status_code);
const sel = (k) => {
  const [svc, name, kind, status] = JSON.parse(k);
  const esc = (v) => JSON.stringify(v);
  return `{service_name=${esc(svc)},span_name=${esc(name)},span_kind=${esc(kind)},status_code=${esc(status)}}`;
};

// Prometheus's bucketQuantile (promql/quantile.go) over cumulative buckets.
function quantile(q, bounds, cum) {
  const buckets = [...bounds.map((b, i) => ({ ub: b, c: cum[i] })), { ub: Infinity, c: cum[cum.length - 1] }];
  const total = buckets[buckets.length - 1].c;
  if (total === 0) return NaN;
  let rank = q * total;
  let b = buckets.findIndex((x, i) => i < buckets.length - 1 && x.c >= rank);
  if (b < 0) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].ub;
  if (b === 0 && buckets[0].ub <= 0) return buckets[0].ub;
  let start = 0;
  let count = buckets[b].c;
  if (b > 0) { start = buckets[b - 1].ub; count -= buckets[b - 1].c; rank -= buckets[b - 1].c; }
  return start + (buckets[b].ub - start) * (rank / count);
}

// Wait until the latest flush written holds every span (cumulative counters).
const total = spans.length;
let seen = 0;
for (const until = Date.now() + Number(args.wait) * 1000; ;) {
  const r = await query(`sum(${CALLS})`);
  seen = r.length ? Number(r[0].value[1]) : 0;
  if (seen >= total || Date.now() > until) break;
  await new Promise((res) => setTimeout(res, 250));
}
if (seen !== total) problems.push(`sum(${CALLS}) = ${seen}, expected ${total} spans`);

// calls per (service, span name, kind, status)
const calls = await query(`sum by (service_name, span_name, span_kind, status_code) (${CALLS})`);
const got = new Map(calls.map((c) => [labelsKey(c.metric), Number(c.value[1])]));
for (const [k, w] of want) {
  if (!got.has(k)) problems.push(`${CALLS}${sel(k)}: missing, expected ${w.calls}`);
  else if (got.get(k) !== w.calls) problems.push(`${CALLS}${sel(k)} = ${got.get(k)}, expected ${w.calls}`);
}
for (const k of got.keys()) if (!want.has(k)) problems.push(`${CALLS}${sel(k)}: unexpected series`);

// every bucket of every series, _count and _sum
const les = [...BOUNDS.map(String), '+Inf'];
const bk = await query(`${DUR}_bucket`);
const perSeries = new Map();
for (const g of bk) {
  const k = labelsKey(g.metric);
  if (!perSeries.has(k)) perSeries.set(k, new Map());
  perSeries.get(k).set(g.metric.le, Number(g.value[1]));
}
let bucketsChecked = 0;
for (const [k, w] of want) {
  const m = perSeries.get(k);
  if (!m) { problems.push(`${DUR}_bucket${sel(k)}: missing`); continue; }
  if (m.size !== les.length) problems.push(`${DUR}_bucket${sel(k)}: ${m.size} buckets, expected ${les.length}`);
  les.forEach((le, i) => {
    bucketsChecked++;
    if (m.get(le) !== w.cum[i]) problems.push(`${DUR}_bucket${sel(k)}{le="${le}"} = ${m.get(le)}, expected ${w.cum[i]}`);
  });
}
if (perSeries.size !== want.size) problems.push(`${perSeries.size} duration series, expected ${want.size}`);
const counts = new Map((await query(`${DUR}_count`)).map((c) => [labelsKey(c.metric), Number(c.value[1])]));
const sums = new Map((await query(`${DUR}_sum`)).map((c) => [labelsKey(c.metric), Number(c.value[1])]));
for (const [k, w] of want) {
  if (counts.get(k) !== w.calls) problems.push(`${DUR}_count${sel(k)} = ${counts.get(k)}, expected ${w.calls}`);
  if (!close(sums.get(k) ?? NaN, w.sum, 1e-9)) problems.push(`${DUR}_sum${sel(k)} = ${sums.get(k)}, expected ${w.sum}`);
}

// histogram_quantile: per series for the largest few, and over all series
const largest = [...want.entries()].sort((a, b) => b[1].calls - a[1].calls).slice(0, 5);
for (const [k, w] of largest) {
  for (const q of [0.5, 0.9, 0.99]) {
    const r = await query(`histogram_quantile(${q}, ${DUR}_bucket${sel(k)})`);
    const e = quantile(q, BOUNDS, w.cum);
    if (r.length !== 1 || !close(Number(r[0].value[1]), e)) {
      problems.push(`histogram_quantile(${q}, ${DUR}_bucket${sel(k)}) = ${r[0]?.value[1]}, expected ${e}`);
    }
  }
}
const all = new Array(BOUNDS.length + 1).fill(0);
for (const w of want.values()) w.cum.forEach((c, i) => (all[i] += c));
const quantiles = {};
for (const q of [0.5, 0.9, 0.99]) {
  const r = await query(`histogram_quantile(${q}, sum by (le) (${DUR}_bucket))`);
  const e = quantile(q, BOUNDS, all);
  quantiles[q] = e;
  if (r.length !== 1 || !close(Number(r[0].value[1]), e)) {
    problems.push(`histogram_quantile(${q}, sum by (le) (${DUR}_bucket)) = ${r[0]?.value[1]}, expected ${e}`);
  }
}

// rate over the calls: positive, for all spans and for the largest series
const rate = await query(`sum(rate(${CALLS}[${args.window}]))`);
if (rate.length !== 1 || !(Number(rate[0].value[1]) > 0)) problems.push(`sum(rate(${CALLS}[${args.window}])) = ${rate[0]?.value[1]}, expected > 0`);
const r1 = await query(`rate(${CALLS}${sel(largest[0][0])}[${args.window}])`);
if (r1.length !== 1 || !(Number(r1[0].value[1]) > 0)) problems.push(`rate(${CALLS}${sel(largest[0][0])}) = ${r1[0]?.value[1]}, expected > 0`);

if (problems.length) {
  console.error(`spanmetrics_check: ${problems.length} problem(s) in ${want.size} series:`);
  for (const p of problems.slice(0, 25)) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`spanmetrics_check: ${total} spans, ${want.size} series, ${bucketsChecked} buckets match; ` +
  `p50/p90/p99 ${quantiles[0.5].toFixed(1)}/${quantiles[0.9].toFixed(1)}/${quantiles[0.99].toFixed(1)} ms; ` +
  `rate ${Number(rate[0]?.value[1]).toFixed(3)}/s; ${queries} PromQL queries`);

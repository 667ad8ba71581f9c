#!/usr/bin/env node
// prom_check.mjs -- checks what a Prometheus server holds against what
// send_metrics.mjs says it exported (its --out file), through PromQL on the
// HTTP API. Per series of every instrument:
//   - the name Prometheus knows it by (unit and _total suffixes), with job and
//     instance from service.name and service.instance.id;
//   - the latest value: the last point for cumulative data, the sum of all
//     points for delta data (pipit converts delta to cumulative);
//   - count_over_time == the number of points exported (nothing lost or
//     duplicated, also across an outage);
//   - histograms: every _bucket (cumulative, le="+Inf" = count), _sum, _count,
//     and histogram_quantile(q) == the quantile computed here the way
//     Prometheus computes it;
//   - rate() over the counters is positive;
//   - target_info carries the non-identifying resource attributes.
// Exits 1 listing the differences.

import { readFileSync } from 'node:fs';
import { parseCli, die } from './common.mjs';

const USAGE = 'usage: prom_check.mjs --prom URL --expected FILE [--window 15m]';
const args = parseCli({
  prom: { type: 'string' }, expected: { type: 'string' }, window: { type: 'string', default: '15m' },
}, USAGE);
if (!args.prom || !args.expected) die(USAGE);

const lines = readFileSync(args.expected, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const header = lines[0];
const points = lines.slice(1);
const res = header.resources[0].attributes;
const job = res['service.name'].s;
const instance = res['service.instance.id'].s;

const NAMES = {
  'pipit.it.requests': 'pipit_it_requests_total',
  'pipit.it.bytes_sent': 'pipit_it_bytes_sent_total',
  'pipit.it.active_jobs': 'pipit_it_active_jobs',
  'pipit.it.temperature': 'pipit_it_temperature_celsius',
  'pipit.it.latency': 'pipit_it_latency_milliseconds',
};
const COUNTERS = ['pipit.it.requests', 'pipit.it.bytes_sent'];

// Expected state per (metric, route).
const want = new Map();
for (const p of points) {
  const key = `${p.metric.name}|${p.attributes['http.route'].s}`;
  let w = want.get(key);
  if (!w) {
    w = { metric: p.metric, route: p.attributes['http.route'].s, n: 0, last: -1n, value: 0, hist: null };
    want.set(key, w);
  }
  w.n++;
  const delta = p.metric.aggregationTemporality === 1;
  const t = BigInt(p.timeUnixNano);
  const v = p.value ? Number(p.value.i ?? p.value.d) : null;
  if (p.histogram) {
    const h = { count: Number(p.histogram.count), sum: p.histogram.sum, buckets: p.histogram.bucketCounts.map(Number), bounds: p.histogram.explicitBounds };
    if (delta && w.hist) {
      w.hist.count += h.count; w.hist.sum += h.sum;
      w.hist.buckets = w.hist.buckets.map((c, i) => c + h.buckets[i]);
    } else if (delta || t > w.last) {
      w.hist = h;
    }
  } else if (delta) {
    w.value += v;
  } else if (t > w.last) {
    w.value = v;
  }
  if (t > w.last) w.last = t;
}

const problems = [];
let queries = 0;
async function query(q) {
  queries++;
  const url = `${args.prom}/api/v1/query?query=${encodeURIComponent(q)}`;
  const r = await fetch(url);
  const body = await r.json();
  if (body.status !== 'success') throw new Error(`${q}: ${JSON.stringify(body)}`);
  return body.data.result;
}
async function one(q) {
  const r = await query(q);
  if (r.length !== 1) {
    problems.push(`${q}: ${r.length} series, expected 1`);
    return null;
  }
  return r[0];
}
const close = (a, b) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

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

const sel = (route) => `{job="${job}",instance="${instance}",http_route="${route}"}`;
for (const w of want.values()) {
  const name = NAMES[w.metric.name];
  if (!name) { problems.push(`no Prometheus name known for ${w.metric.name}`); continue; }
  const s = sel(w.route);
  if (w.hist) {
    const cum = [];
    w.hist.buckets.reduce((acc, c, i) => (cum[i] = acc + c), 0);
    const got = await query(`${name}_bucket${s}`);
    const les = [...w.hist.bounds.map(String), '+Inf'];
    if (got.length !== les.length) problems.push(`${name}_bucket${s}: ${got.length} buckets, expected ${les.length}`);
    for (const g of got) {
      const i = les.indexOf(g.metric.le);
      if (i < 0) problems.push(`${name}_bucket${s}: unexpected le="${g.metric.le}"`);
      else if (Number(g.value[1]) !== cum[i]) problems.push(`${name}_bucket${s}{le="${g.metric.le}"} = ${g.value[1]}, expected ${cum[i]}`);
    }
    const c = await one(`${name}_count${s}`);
    if (c && Number(c.value[1]) !== w.hist.count) problems.push(`${name}_count${s} = ${c.value[1]}, expected ${w.hist.count}`);
    const sm = await one(`${name}_sum${s}`);
    if (sm && !close(Number(sm.value[1]), w.hist.sum)) problems.push(`${name}_sum${s} = ${sm.value[1]}, expected ${w.hist.sum}`);
    for (const q of [0.5, 0.9, 0.99]) {
      const hq = await one(`histogram_quantile(${q}, ${name}_bucket${s})`);
      const e = quantile(q, w.hist.bounds, cum);
      if (hq && !close(Number(hq.value[1]), e)) problems.push(`histogram_quantile(${q}, ${name}_bucket${s}) = ${hq.value[1]}, expected ${e}`);
    }
    const n = await one(`count_over_time(${name}_count${s}[${args.window}])`);
    if (n && Number(n.value[1]) !== w.n) problems.push(`count_over_time(${name}_count${s}) = ${n.value[1]}, expected ${w.n} points`);
    continue;
  }
  const g = await one(`${name}${s}`);
  if (g) {
    if (!close(Number(g.value[1]), w.value)) problems.push(`${name}${s} = ${g.value[1]}, expected ${w.value}`);
    const l = g.metric;
    if (l.otel_scope_name === undefined || l.http_response_status_code === undefined) {
      problems.push(`${name}${s}: labels ${JSON.stringify(l)} lack otel_scope_name or http_response_status_code`);
    }
    if (l.service_name !== undefined || l.host_name !== undefined) {
      problems.push(`${name}${s}: resource attributes copied onto the series: ${JSON.stringify(l)}`);
    }
  }
  const n = await one(`count_over_time(${name}${s}[${args.window}])`);
  if (n && Number(n.value[1]) !== w.n) problems.push(`count_over_time(${name}${s}) = ${n.value[1]}, expected ${w.n} points`);
  if (COUNTERS.includes(w.metric.name) && w.n >= 2) {
    const r = await one(`rate(${name}${s}[${args.window}])`);
    if (r && !(Number(r.value[1]) > 0)) problems.push(`rate(${name}${s}) = ${r.value[1]}, expected > 0`);
  }
}

// target_info: one series for this job/instance with the other resource attributes.
const ti = await one(`target_info{job="${job}",instance="${instance}"}`);
if (ti) {
  const l = ti.metric;
  const expect = { host_name: res['host.name'].s, service_version: res['service.version'].s,
    pipit_test_resource_double: '0.125', pipit_test_resource_bool: 'false', pipit_test_resource_ints: '[1,2,3]' };
  for (const [k, v] of Object.entries(expect)) if (l[k] !== v) problems.push(`target_info.${k} = ${l[k]}, expected ${v}`);
  if (l.service_name !== undefined || l.service_instance_id !== undefined) problems.push(`target_info has identifying attributes: ${JSON.stringify(l)}`);
  if (ti.value[1] !== '1') problems.push(`target_info = ${ti.value[1]}, expected 1`);
}

if (problems.length) {
  console.error(`prom_check: ${problems.length} problem(s) in ${want.size} series (${header.temporality}):`);
  for (const p of problems.slice(0, 25)) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`prom_check: ${want.size} series, ${points.length} points (${header.temporality}) match; ${queries} PromQL queries`);

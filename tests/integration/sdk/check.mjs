#!/usr/bin/env node
// check.mjs -- compares what a sender says it sent (--expected, from
// send_traces.mjs or send_metrics.mjs) with what pipit's `file` exporter wrote
// (--actual, OTLP/JSON lines, one Export*ServiceRequest per line).
//
// Exact: every span / data point must arrive exactly once (none missing, none
// extra, none twice), and every field must be equal: ids, times, kinds,
// status, events, links, flags, every attribute and its type, resource and
// scope. Prints the differences and exits 1 on any mismatch.
//
//   check.mjs --expected expected.jsonl --actual out.json [--count-only]
// --count-only prints the number of items in --actual and exits 0 (for
// polling until a file holds everything).
// --allow-duplicates accepts an item delivered more than once (at-least-once
// delivery across a backend that stops mid-request); they are still counted
// and printed, and nothing may be missing or differ.
// --order (traces, with an --expected file from send_traces.mjs --sequential:
// one trace per request, the records in the order the sender had them
// acknowledged): the traces must also arrive in that order. The unit is a
// trace within one request (one line of --actual); the order of spans inside
// a request is the encoder's (the SDK groups them by scope), not a queue's.
// Taken in file order, every trace seen for the first time must be the next
// one expected (nothing passes an older trace). With --allow-duplicates,
// repeats must be in-order replays of the newest traces: a run of repeats is
// consecutive expected traces, ascending, ending with the newest trace
// delivered so far (a request the backend wrote but whose answer was lost,
// sent again from the queue head before anything newer). The same request may
// be replayed more than once (several runs). Every run is printed.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { attrsFromOtlp, canonical, die, parseCli } from './common.mjs';

const args = parseCli({
  expected: { type: 'string' },
  actual: { type: 'string' },
  'count-only': { type: 'boolean' },
  'allow-duplicates': { type: 'boolean' },
  order: { type: 'boolean' },
  'max-diffs': { type: 'string', default: '30' },
}, 'usage: check.mjs --expected FILE --actual FILE [--count-only] [--allow-duplicates] [--order] [--max-diffs N]');
if (!args.actual || (!args.expected && !args['count-only'])) die('--expected and --actual are required');

const MAX_DIFFS = Number(args['max-diffs']);

async function* lines(path) {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    yield [n, line];
  }
}

// ---- OTLP/JSON -> the normalized records of common.mjs ----

const str = (v) => (v === undefined || v === null ? '' : String(v));
const int = (v) => (v === undefined || v === null ? 0 : Number(v));
const u64 = (v) => (v === undefined || v === null ? '0' : BigInt(v).toString());
const hexId = (v) => str(v).toLowerCase();

function normResource(r, path) {
  return { attributes: attrsFromOtlp(r?.attributes, `${path}.attributes`), schemaUrl: '' };
}

function normScope(s, schemaUrl) {
  return { name: str(s?.name), version: str(s?.version), schemaUrl: str(schemaUrl) };
}

function* spansOf(req, where) {
  for (const [ri, rs] of (req.resourceSpans ?? []).entries()) {
    const rpath = `${where}.resourceSpans[${ri}]`;
    const resource = normResource(rs.resource, `${rpath}.resource`);
    resource.schemaUrl = str(rs.schemaUrl);
    for (const [si, ss] of (rs.scopeSpans ?? []).entries()) {
      const scope = normScope(ss.scope, ss.schemaUrl);
      for (const [pi, s] of (ss.spans ?? []).entries()) {
        const path = `${rpath}.scopeSpans[${si}].spans[${pi}]`;
        yield [path, resource, {
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          traceState: str(s.traceState),
          flags: int(s.flags),
          name: str(s.name),
          kind: int(s.kind),
          startTimeUnixNano: u64(s.startTimeUnixNano),
          endTimeUnixNano: u64(s.endTimeUnixNano),
          attributes: attrsFromOtlp(s.attributes, `${path}.attributes`),
          droppedAttributesCount: int(s.droppedAttributesCount),
          events: (s.events ?? []).map((e, i) => ({
            name: str(e.name),
            timeUnixNano: u64(e.timeUnixNano),
            attributes: attrsFromOtlp(e.attributes, `${path}.events[${i}].attributes`),
            droppedAttributesCount: int(e.droppedAttributesCount),
          })),
          droppedEventsCount: int(s.droppedEventsCount),
          links: (s.links ?? []).map((l, i) => ({
            traceId: hexId(l.traceId),
            spanId: hexId(l.spanId),
            traceState: str(l.traceState),
            flags: int(l.flags),
            attributes: attrsFromOtlp(l.attributes, `${path}.links[${i}].attributes`),
            droppedAttributesCount: int(l.droppedAttributesCount),
          })),
          droppedLinksCount: int(s.droppedLinksCount),
          status: { code: int(s.status?.code), message: str(s.status?.message) },
          scope,
        }];
      }
    }
  }
}

const double = (v) => (v === undefined || v === null ? 0 : typeof v === 'string' ? Number(v) : v);

function* pointsOf(req, where) {
  for (const [ri, rm] of (req.resourceMetrics ?? []).entries()) {
    const rpath = `${where}.resourceMetrics[${ri}]`;
    const resource = normResource(rm.resource, `${rpath}.resource`);
    resource.schemaUrl = str(rm.schemaUrl);
    for (const [si, sm] of (rm.scopeMetrics ?? []).entries()) {
      const scope = normScope(sm.scope, sm.schemaUrl);
      for (const [mi, m] of (sm.metrics ?? []).entries()) {
        const mpath = `${rpath}.scopeMetrics[${si}].metrics[${mi}]`;
        const metric = { name: str(m.name), description: str(m.description), unit: str(m.unit) };
        let data;
        if (m.sum) {
          data = m.sum;
          Object.assign(metric, { type: 'sum', isMonotonic: Boolean(m.sum.isMonotonic) });
        } else if (m.gauge) {
          data = m.gauge;
          metric.type = 'gauge';
        } else if (m.histogram) {
          data = m.histogram;
          metric.type = 'histogram';
        } else {
          throw new Error(`${mpath}: no sum, gauge or histogram (${Object.keys(m)})`);
        }
        if (metric.type !== 'gauge') metric.aggregationTemporality = int(data.aggregationTemporality);
        for (const [pi, p] of (data.dataPoints ?? []).entries()) {
          const path = `${mpath}.dataPoints[${pi}]`;
          const point = {
            resource,
            scope,
            metric,
            attributes: attrsFromOtlp(p.attributes, `${path}.attributes`),
            startTimeUnixNano: u64(p.startTimeUnixNano),
            timeUnixNano: u64(p.timeUnixNano),
            flags: int(p.flags),
          };
          if (metric.type === 'histogram') {
            point.histogram = {
              count: u64(p.count),
              sum: double(p.sum),
              min: double(p.min),
              max: double(p.max),
              bucketCounts: (p.bucketCounts ?? []).map(u64),
              explicitBounds: (p.explicitBounds ?? []).map(double),
            };
          } else if (p.asInt !== undefined) {
            point.value = { i: u64(p.asInt) };
          } else {
            point.value = { d: double(p.asDouble) };
          }
          if ((p.exemplars ?? []).length) point.exemplars = p.exemplars.length;
          yield [path, resource, point];
        }
      }
    }
  }
}

const spanKey = (s) => `${s.traceId}/${s.spanId}`;
const pointKey = (p) => `${p.scope.name}|${p.metric.name}|${canonical(p.attributes)}|${p.timeUnixNano}`;

// ---- comparison ----

const diffs = [];
let ndiffs = 0;
function note(msg) {
  ndiffs++;
  if (diffs.length < MAX_DIFFS) diffs.push(msg);
}

// Reports every leaf where a and b differ. Doubles compare exactly (Object.is,
// so 0 and -0 differ too).
function compare(path, want, got) {
  if (Array.isArray(want) || Array.isArray(got)) {
    if (!Array.isArray(want) || !Array.isArray(got)) return note(`${path}: expected ${canonical(want)}, got ${canonical(got)}`);
    if (want.length !== got.length) return note(`${path}: expected ${want.length} items ${trim(canonical(want))}, got ${got.length} ${trim(canonical(got))}`);
    want.forEach((w, i) => compare(`${path}[${i}]`, w, got[i]));
    return;
  }
  if (want && typeof want === 'object' && got && typeof got === 'object') {
    for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
      if (!(k in got)) note(`${path}.${k}: missing, expected ${trim(canonical(want[k]))}`);
      else if (!(k in want)) note(`${path}.${k}: unexpected ${trim(canonical(got[k]))}`);
      else compare(`${path}.${k}`, want[k], got[k]);
    }
    return;
  }
  if (!Object.is(want, got)) note(`${path}: expected ${trim(canonical(want))}, got ${trim(canonical(got))}`);
}

const trim = (s) => (s && s.length > 160 ? `${s.slice(0, 160)}...` : s);

async function main() {
  let actualCount = 0;
  if (args['count-only']) {
    for await (const [n, line] of lines(args.actual)) {
      let req;
      try { req = JSON.parse(line); } catch { continue; } // a line being written
      for (const _ of req.resourceSpans ? spansOf(req, `line ${n}`) : pointsOf(req, `line ${n}`)) actualCount++;
    }
    console.log(actualCount);
    return 0;
  }

  let header = null;
  const expected = new Map();
  const position = new Map(); // trace id -> index of the trace in the expected file
  for await (const [n, line] of lines(args.expected)) {
    const rec = JSON.parse(line);
    if (!header) { header = rec; continue; }
    const key = header.signal === 'traces' ? spanKey(rec) : pointKey(rec);
    if (expected.has(key)) throw new Error(`${args.expected}:${n}: two expected items with key ${key}`);
    if (header.signal === 'traces' && !position.has(rec.traceId)) position.set(rec.traceId, position.size);
    expected.set(key, rec);
  }
  if (!header) die(`${args.expected} is empty`);
  if (args.order && !(header.signal === 'traces' && header.sequential)) {
    die('--order needs an --expected file from send_traces.mjs --sequential');
  }
  const seenTraces = new Set();
  // --order: the next first-time item expected; the current run of repeats.
  let nextNew = 0;
  let orderErrors = 0;
  let prevDup = -1; // expected index of the previous item if it was a repeat
  const runs = []; // [first index, length, distance back from nextNew]
  const orderNote = (msg) => { orderErrors++; note(msg); };
  if (expected.size !== header.count) die(`${args.expected}: header says ${header.count} items, file has ${expected.size}`);
  const traces = header.signal === 'traces';
  const resources = header.resources.map((r) => canonical(r));

  const seen = new Set();
  let missingFields = 0;
  let unexpected = 0;
  let duplicates = 0;
  let requests = 0;
  for await (const [n, line] of lines(args.actual)) {
    requests++;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      note(`${args.actual}:${n}: not JSON (${e.message}): ${trim(line)}`);
      continue;
    }
    const items = traces ? spansOf(req, `line ${n}`) : pointsOf(req, `line ${n}`);
    const lineTraces = new Set(); // --order: the traces of this request so far
    if (!traces && req.resourceSpans) note(`line ${n}: a traces request in a metrics run`);
    if (traces && req.resourceMetrics) note(`line ${n}: a metrics request in a traces run`);
    for (const [path, resource, item] of items) {
      actualCount++;
      const key = traces ? spanKey(item) : pointKey(item);
      const want = expected.get(key);
      if (!want) {
        unexpected++;
        note(`${path}: unexpected ${traces ? 'span' : 'data point'} ${key}`);
        continue;
      }
      if (args.order && !lineTraces.has(item.traceId)) {
        // The first span of this trace in this request: one unit of order.
        lineTraces.add(item.traceId);
        const at = position.get(item.traceId);
        if (seenTraces.has(item.traceId)) {
          if (prevDup >= 0 && at === prevDup + 1) runs[runs.length - 1][1]++;
          else {
            if (prevDup >= 0 && prevDup + 1 !== nextNew) {
              orderNote(`${path}: a replay stops at trace #${prevDup}, short of the newest #${nextNew - 1}`);
            }
            runs.push([at, 1, nextNew - at]);
          }
          prevDup = at;
        } else {
          seenTraces.add(item.traceId);
          if (prevDup >= 0 && prevDup + 1 !== nextNew) {
            orderNote(`${path}: a replay stops at trace #${prevDup}, short of the newest #${nextNew - 1}`);
          }
          prevDup = -1;
          if (at !== nextNew) orderNote(`${path}: out of order: trace #${at} (${item.traceId}) arrived when #${nextNew} was next`);
          nextNew = Math.max(nextNew, at + 1);
        }
      }
      if (seen.has(key)) {
        duplicates++;
        note(`${path}: ${key} delivered more than once`);
        continue;
      }
      seen.add(key);
      const before = ndiffs;
      const r = canonical(resource);
      if (r !== resources[want.resource]) {
        compare(`${path} (${key}) resource`, header.resources[want.resource], resource);
      }
      const { resource: _r, ...wantFields } = want;
      const { resource: _g, ...gotFields } = item;
      compare(`${path} (${key})`, wantFields, gotFields);
      if (ndiffs > before) missingFields++;
    }
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  for (const k of missing.slice(0, 10)) note(`missing: ${traces ? 'span' : 'data point'} ${k}`);
  if (missing.length > 10) note(`missing: ... and ${missing.length - 10} more`);

  const what = traces ? 'spans' : 'data points';
  const summary = `${header.signal} over ${header.protocol} (${header.compression}` +
    `${header.temporality ? `, ${header.temporality}` : ''}): expected ${expected.size} ${what}, ` +
    `file has ${actualCount} in ${requests} requests`;
  const dupsOk = args['allow-duplicates'] && actualCount === expected.size + duplicates;
  let ordered = '';
  if (args.order) {
    const back = runs.reduce((m, r) => Math.max(m, r[2]), 0);
    ordered = `, ${nextNew} traces in acknowledgement order${runs.length ? ` (${runs.length} in-order replay run(s) ` +
      `[${runs.slice(0, 10).map(([a, l, b]) => `${l} trace(s) from #${a}, ${b} back`).join('; ')}` +
      `${runs.length > 10 ? '; ...' : ''}], at most ${back} traces back)` : ''}`;
  }
  if (ndiffs === duplicates && dupsOk && seen.size === expected.size && orderErrors === 0) {
    console.log(`check: OK ${summary}, every field equal${ordered}, ${duplicates} duplicate(s) allowed`);
    return 0;
  }
  if (ndiffs === 0 && actualCount === expected.size && seen.size === expected.size) {
    console.log(`check: OK ${summary}, every field equal${ordered}`);
    return 0;
  }
  console.error(`check: MISMATCH ${summary}`);
  console.error(`  missing ${missing.length}, unexpected ${unexpected}, duplicated ${duplicates}, ` +
    `with differing fields ${missingFields}, out of order ${orderErrors}; ${ndiffs} difference(s), ` +
    `first ${diffs.length}:`);
  for (const d of diffs) console.error(`  ${d}`);
  return 1;
}

process.exitCode = await main();

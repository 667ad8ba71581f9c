#!/usr/bin/env node
// check.mjs -- compares what send_traces.mjs sent (--expected) with what the
// Sentry test server accepted (--records, the JSON of GET /records):
//   - no problems seen by the server (auth, parsing, sent_at, early sends);
//   - one transaction per local root (no parent, or a remote parent), none
//     twice, no orphans, and each holds exactly the root's descendants;
//   - one error event per "exception" span event, with its type and value,
//     stack frames (the V8 stack is parseable), level error, and linked to
//     the span it came from (trace_id and span_id of a transaction's span);
//   - with rate limits: nothing of a limited category sent after the 429
//     and accepted before the limit's end (the server also flags that), and
//     some of it arrived after the end.
// Prints what differs and exits 1; --count prints "transactions errors".
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    expected: { type: 'string' },
    records: { type: 'string' },
    count: { type: 'boolean' },
    'want-limits': { type: 'string', default: '0' },
  },
});
const rec = JSON.parse(readFileSync(args.records, 'utf8'));
if (args.count) {
  console.log(`${rec.transactions.length} ${rec.errors.length}`);
  process.exit(0);
}

const lines = readFileSync(args.expected, 'utf8').split('\n').filter((l) => l.trim() !== '');
const spans = lines.slice(1).map((l) => JSON.parse(l));
const byId = new Map(spans.map((s) => [s.spanId, s]));
const problems = [...rec.problems.map((p) => `server: ${p}`)];
const fail = (m) => problems.push(m);

// ---- transactions ----
const isRoot = (s) => s.parentSpanId === '' || (s.flags & 0x300) === 0x300 || !byId.has(s.parentSpanId);
const rootOf = (s) => {
  let cur = s;
  for (let i = 0; i < 1000 && !isRoot(cur); i++) cur = byId.get(cur.parentSpanId);
  return cur;
};
const members = new Map(); // root span id -> span ids under it
for (const s of spans) {
  const r = rootOf(s);
  if (!members.has(r.spanId)) members.set(r.spanId, new Set());
  if (r !== s) members.get(r.spanId).add(s.spanId);
}
const seen = new Set();
for (const t of rec.transactions) {
  if (seen.has(t.span_id)) fail(`transaction for root ${t.span_id} arrived twice`);
  seen.add(t.span_id);
  const want = members.get(t.span_id);
  if (!want) { fail(`transaction ${t.span_id} is not a local root that was sent`); continue; }
  if (t.orphan) fail(`transaction ${t.span_id} marked orphan`);
  const root = byId.get(t.span_id);
  if (t.trace_id !== root.traceId) fail(`transaction ${t.span_id}: trace_id ${t.trace_id}`);
  if ((t.parent_span_id || '') !== root.parentSpanId) fail(`transaction ${t.span_id}: parent ${t.parent_span_id}`);
  // A SERVER root with an HTTP method is named "METHOD target" (route or path).
  const method = root.attributes['http.request.method']?.s;
  const wantName = method && root.kind === 2 ? `${method} ${root.attributes['url.path']?.s}` : root.name;
  if (t.name !== wantName) fail(`transaction ${t.span_id}: name "${t.name}", want "${wantName}"`);
  const got = new Set(t.span_ids);
  if (got.size !== t.span_ids.length) fail(`transaction ${t.span_id}: a span twice`);
  if (got.size !== want.size || [...want].some((id) => !got.has(id))) {
    fail(`transaction ${t.span_id}: ${got.size} spans, want ${want.size}`);
  }
}
if (rec.transactions.length !== members.size) {
  fail(`${rec.transactions.length} transactions, want ${members.size} (one per local root)`);
}

// ---- errors ----
const exceptions = [];
for (const s of spans) {
  for (const e of s.events) if (e.name === 'exception') exceptions.push({ span: s, e });
}
const errBySpan = new Map();
for (const e of rec.errors) {
  if (errBySpan.has(e.span_id)) fail(`two error events for span ${e.span_id}`);
  errBySpan.set(e.span_id, e);
}
const txSpans = new Map();
for (const t of rec.transactions) for (const id of [t.span_id, ...t.span_ids]) txSpans.set(id, t.trace_id);
for (const { span, e } of exceptions) {
  const ev = errBySpan.get(span.spanId);
  if (!ev) { fail(`no error event for the exception of span ${span.spanId}`); continue; }
  const type = e.attributes['exception.type']?.s;
  const msg = e.attributes['exception.message']?.s;
  if (ev.type !== type) fail(`error ${ev.event_id}: type "${ev.type}", want "${type}"`);
  if (ev.value !== msg) fail(`error ${ev.event_id}: value "${ev.value}", want "${msg}"`);
  if (ev.level !== 'error') fail(`error ${ev.event_id}: level ${ev.level}`);
  if (e.attributes['exception.stacktrace']?.s && ev.frames < 1) fail(`error ${ev.event_id}: no stack frames`);
  if (ev.trace_id !== span.traceId) fail(`error ${ev.event_id}: trace_id ${ev.trace_id}, want ${span.traceId}`);
  if (txSpans.get(ev.span_id) !== ev.trace_id) fail(`error ${ev.event_id}: not linked to a span of a transaction`);
}
if (rec.errors.length !== exceptions.length) fail(`${rec.errors.length} error events, want ${exceptions.length}`);

// ---- rate limits ----
const wantLimits = Number(args['want-limits']);
if (rec.limits.length !== wantLimits) fail(`${rec.limits.length} 429 answers given, want ${wantLimits}`);
for (const l of rec.limits) {
  const cats = l.category === 'all' ? ['transaction', 'error'] : [l.category];
  for (const c of cats) {
    const list = c === 'error' ? rec.errors : rec.transactions;
    // sent_at is stamped just before sending: sent after the 429 arrived (100
    // ms for it to travel) and accepted before the end is a violation.
    const early = list.filter((x) => Date.parse(x.sent_at) > l.at + 100 && x.at < l.until);
    if (early.length > 0) fail(`${early.length} ${c} envelopes accepted while rate limited`);
    if (!list.some((x) => x.at >= l.until)) fail(`no ${c} envelope after the limit ended`);
  }
}

if (problems.length > 0) {
  console.error(`sentry check: ${problems.length} problem(s):`);
  for (const p of problems.slice(0, 30)) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`sentry check: ${rec.transactions.length} transactions, ${rec.errors.length} errors, ` +
  `${rec.limits.length} limits respected`);

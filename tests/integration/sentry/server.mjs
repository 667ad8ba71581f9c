#!/usr/bin/env node
// server.mjs -- a Sentry envelope endpoint for the integration tests.
//
// Every POST to /api/<project>/envelope/ is decompressed per Content-Encoding
// (gzip, deflate, br with node's zlib; zstd with the zstd CLI), parsed with the
// official parseEnvelope of @sentry/core, and checked: X-Sentry-Auth (version
// 7, the key, client pipit/<version>), sent_at in the envelope header, one
// event or transaction item whose event_id matches the header's. Accepted
// events are kept; GET /records returns them (and every problem found) as
// JSON. --limit-category C --limit-count N answers the first N envelopes of
// category C (error or transaction) with 429 and --limit-seconds S, either as
// X-Sentry-Rate-Limits for C (--limit-header rate-limits) or as a bare
// Retry-After, which limits every category (--limit-header retry-after).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

import { parseEnvelope } from '@sentry/core';

const { values: args } = parseArgs({
  options: {
    'port-file': { type: 'string' },
    key: { type: 'string' },
    project: { type: 'string', default: '42' },
    'limit-category': { type: 'string', default: '' },
    'limit-count': { type: 'string', default: '0' },
    'limit-seconds': { type: 'string', default: '3' },
    'limit-header': { type: 'string', default: 'rate-limits' },
  },
});
if (!args['port-file'] || !args.key) {
  console.error('usage: server.mjs --port-file FILE --key KEY [--project N] [--limit-category error|transaction ' +
    '--limit-count N --limit-seconds S --limit-header rate-limits|retry-after]');
  process.exit(2);
}

const records = { transactions: [], errors: [], limits: [], problems: [], requests: 0 };
let limitLeft = Number(args['limit-count']);
const limitSeconds = Number(args['limit-seconds']);
// When each category may send again (ms since the epoch), as announced.
const until = { error: 0, transaction: 0 };
const limitAnnounced = { error: 0, transaction: 0 }; // when the 429 was answered
const SLACK_MS = 100;

function problem(msg) {
  if (records.problems.length < 50) records.problems.push(msg);
}

function decompress(body, encoding) {
  switch ((encoding || '').trim()) {
    case '': case 'identity': return body;
    case 'gzip': return zlib.gunzipSync(body);
    case 'deflate': return zlib.inflateSync(body);
    case 'br': return zlib.brotliDecompressSync(body);
    case 'zstd': {
      const r = spawnSync('zstd', ['-d', '-c', '-q'], { input: body, maxBuffer: 256 << 20 });
      if (r.status !== 0) throw new Error(`zstd -d failed: ${r.stderr}`);
      return r.stdout;
    }
    default: throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}

function checkAuth(header) {
  const m = /^Sentry (.*)$/.exec(header || '');
  if (!m) return `X-Sentry-Auth missing or malformed: ${header}`;
  const kv = Object.fromEntries(m[1].split(',').map((p) => p.trim().split('=')));
  if (kv.sentry_version !== '7') return `sentry_version ${kv.sentry_version}`;
  if (kv.sentry_key !== args.key) return `sentry_key ${kv.sentry_key}`;
  if (!/^pipit\/\d+\.\d+\.\d+/.test(kv.sentry_client || '')) return `sentry_client ${kv.sentry_client}`;
  return null;
}

const hex = (s, n) => typeof s === 'string' && s.length === n && /^[0-9a-f]+$/.test(s);

// The envelope's one item, or a string saying what is wrong.
function readEnvelope(raw) {
  const [header, items] = parseEnvelope(raw);
  if (!hex(header.event_id, 32)) return 'envelope header without a valid event_id';
  if (typeof header.sent_at !== 'string' || Number.isNaN(Date.parse(header.sent_at))) return 'no sent_at';
  const headerLine = raw.subarray(0, raw.indexOf(10)).toString();
  if (headerLine.split('"sent_at"').length !== 2) return 'sent_at more than once';
  if (items.length !== 1) return `${items.length} items (want one per envelope)`;
  const [ih, payload] = items[0];
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
  if (typeof ih.length === 'number' && Buffer.byteLength(text) !== ih.length) return 'item length mismatch';
  const ev = JSON.parse(text);
  if (ev.event_id !== header.event_id) return 'item event_id differs from the header';
  if (!['transaction', 'event'].includes(ih.type)) return `item type ${ih.type}`;
  return { header, type: ih.type, ev };
}

function record(env, at) {
  const { header, type, ev } = env;
  const trace = ev.contexts?.trace ?? {};
  if (!hex(trace.trace_id, 32) || !hex(trace.span_id, 16)) problem(`${type} without contexts.trace ids`);
  if (type === 'transaction') {
    records.transactions.push({
      event_id: ev.event_id, at, sent_at: header.sent_at, name: ev.transaction,
      trace_id: trace.trace_id, span_id: trace.span_id, parent_span_id: trace.parent_span_id ?? '',
      op: trace.op ?? '', status: trace.status ?? '', orphan: ev.tags?.['pipit.orphan'] === 'true',
      span_ids: (ev.spans ?? []).map((s) => s.span_id),
      start: ev.start_timestamp, end: ev.timestamp,
    });
  } else {
    const values = ev.exception?.values ?? [];
    const last = values[values.length - 1] ?? {};
    records.errors.push({
      event_id: ev.event_id, at, sent_at: header.sent_at, level: ev.level,
      type: last.type ?? '', value: last.value ?? '', frames: last.stacktrace?.frames?.length ?? 0,
      trace_id: trace.trace_id, span_id: trace.span_id,
    });
  }
}

function answer(res, code, headers = {}) {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(code === 200 ? '{"id":"ok"}' : '{"detail":"see pipit test"}');
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/records') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(records));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    records.requests++;
    if (req.method !== 'POST' || req.url !== `/api/${args.project}/envelope/`) {
      problem(`unexpected ${req.method} ${req.url}`);
      return answer(res, 404);
    }
    const authProblem = checkAuth(req.headers['x-sentry-auth']);
    if (authProblem) {
      problem(authProblem);
      return answer(res, 401);
    }
    if (req.headers['content-type'] !== 'application/x-sentry-envelope') problem(`content-type ${req.headers['content-type']}`);
    let env;
    try {
      env = readEnvelope(decompress(Buffer.concat(chunks), req.headers['content-encoding']));
    } catch (e) {
      env = `unreadable envelope: ${e.message}`;
    }
    if (typeof env === 'string') {
      problem(env);
      return answer(res, 400);
    }
    const category = env.type === 'event' ? 'error' : 'transaction';
    // Sent (sent_at is stamped just before sending) after the 429 reached
    // pipit but before the limit ended. Requests already on their way when
    // the 429 left are not pipit's fault: SLACK_MS covers that race.
    const sentAt = Date.parse(env.header.sent_at);
    if (sentAt > limitAnnounced[category] + SLACK_MS && at < until[category]) {
      problem(`${category} envelope sent ${until[category] - at} ms before its rate limit ended`);
    }
    if (limitLeft > 0 && category === args['limit-category']) {
      limitLeft--;
      const end = at + limitSeconds * 1000;
      if (args['limit-header'] === 'retry-after') {
        until.error = Math.max(until.error, end);
        until.transaction = Math.max(until.transaction, end);
        limitAnnounced.error = limitAnnounced.transaction = at;
        records.limits.push({ category: 'all', at, until: end });
        return answer(res, 429, { 'retry-after': String(limitSeconds) });
      }
      until[category] = Math.max(until[category], end);
      limitAnnounced[category] = at;
      records.limits.push({ category, at, until: end });
      return answer(res, 429, { 'x-sentry-rate-limits': `${limitSeconds}:${category}:key` });
    }
    record(env, at);
    return answer(res, 200);
  });
});

server.listen(0, '127.0.0.1', () => {
  writeFileSync(args['port-file'], String(server.address().port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

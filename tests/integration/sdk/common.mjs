// common.mjs -- shared by the SDK senders and the checker.
//
// The expected file and the checker speak one normalized form, JSON lines:
//   line 1: a header {signal, protocol, compression, count, resources: [...]}
//   then one line per span or data point.
// Attribute maps are {key: typed value}; a typed value is one of
//   {s: "str"} {b: true} {i: "123"} (64-bit as a decimal string) {d: 1.5}
//   {a: [typed...]} {kv: {key: typed}} {bytes: "base64"} {} (empty AnyValue)
// so that an int that became a double, or a string that became an int, is a
// difference.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

// ---- command line ----

export function parseCli(options, usage) {
  let parsed;
  try {
    parsed = parseArgs({ options: { help: { type: 'boolean' }, ...options }, strict: true });
  } catch (e) {
    console.error(`${e.message}\n${usage}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

export function die(msg) {
  console.error(`error: ${msg}`);
  process.exit(1);
}

export const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'];

// The options both senders take, checked.
export function checkTransportArgs(args, usage) {
  if (!PROTOCOLS.includes(args.protocol)) die(`--protocol must be one of ${PROTOCOLS.join(', ')}\n${usage}`);
  if (!args.endpoint || !args.out) die(`--endpoint and --out are required\n${usage}`);
  if (!['none', 'gzip'].includes(args.compression)) die('--compression must be none or gzip');
}

// The URL an exporter wants: gRPC takes the endpoint as is; the HTTP exporters
// take the full URL, so "/v1/<signal>" is added to a bare endpoint.
export function exporterUrl(protocol, endpoint, signal) {
  if (protocol === 'grpc') return endpoint;
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = `/v1/${signal}`;
  return u.toString();
}

// ---- deterministic randomness (splitmix32) ----

export function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return {
    u32: next,
    int: (n) => next() % n,
    float: () => next() / 4294967296,
    hex: (bytes) => {
      let out = '';
      while (out.length < bytes * 2) out += next().toString(16).padStart(8, '0');
      return out.slice(0, bytes * 2);
    },
  };
}

// ---- time ----

export const hrTime = (ns) => [Number(ns / 1000000000n), Number(ns % 1000000000n)];
export const hrToNs = (hr) => BigInt(Math.trunc(hr[0])) * 1000000000n + BigInt(Math.trunc(hr[1]));

// ---- typed values ----

// A JS attribute value, typed the way the OTLP exporters encode it
// (otlp-transformer: integral numbers within the int64 range are intValue).
export function typedFromJs(v) {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') return { s: v };
  if (typeof v === 'boolean') return { b: v };
  if (typeof v === 'number') {
    return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63 ? { i: BigInt(v).toString() } : { d: v };
  }
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { a: v.map(typedFromJs) };
  if (typeof v === 'object') return { kv: attrsFromJs(v) };
  throw new Error(`no OTLP type for ${typeof v}`);
}

export function attrsFromJs(obj) {
  const out = {};
  for (const k of Object.keys(obj ?? {})) out[k] = typedFromJs(obj[k]);
  return out;
}

// An OTLP/JSON AnyValue, typed the same way.
export function typedFromOtlp(v, path) {
  if (v === undefined || v === null) return {};
  const keys = Object.keys(v);
  if (keys.length === 0) return {};
  if (keys.length > 1) throw new Error(`${path}: AnyValue with several values: ${keys}`);
  const val = v[keys[0]];
  switch (keys[0]) {
    case 'stringValue': return { s: val };
    case 'boolValue': return { b: val };
    case 'intValue': return { i: String(val) };
    case 'doubleValue': return { d: typeof val === 'string' ? Number(val) : val };
    case 'bytesValue': return { bytes: val };
    case 'arrayValue':
      return { a: (val.values ?? []).map((x, i) => typedFromOtlp(x, `${path}.arrayValue[${i}]`)) };
    case 'kvlistValue': return { kv: attrsFromOtlp(val.values, `${path}.kvlistValue`) };
    default: throw new Error(`${path}: unknown AnyValue member ${keys[0]}`);
  }
}

export function attrsFromOtlp(list, path) {
  const out = {};
  for (const [i, kv] of (list ?? []).entries()) {
    if (Object.hasOwn(out, kv.key)) throw new Error(`${path}[${i}]: duplicate key ${kv.key}`);
    out[kv.key] = typedFromOtlp(kv.value, `${path}[${i}].value`);
  }
  return out;
}

// JSON with object keys sorted: a canonical text for keys and comparisons.
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---- failure detection ----

// Every diag warning or error from the SDK is kept; the sender fails if any
// was logged (a dropped span, a failed export, an invalid attribute).
export function installDiag(api) {
  const problems = [];
  const keep = (level) => (msg, ...args) => {
    problems.push(`${level}: ${msg} ${args.map((a) => (a instanceof Error ? a.stack : JSON.stringify(a))).join(' ')}`);
  };
  api.diag.setLogger(
    { error: keep('error'), warn: keep('warn'), info: () => {}, debug: () => {}, verbose: () => {} },
    api.DiagLogLevel.WARN,
  );
  return problems;
}

const EXPORT_SUCCESS = 0; // ExportResultCode.SUCCESS in @opentelemetry/core

// Wraps an SDK exporter: counts what is in flight and what was acknowledged,
// keeps every failure with its error, and lets the caller see each item batch
// before it is exported (onExport).
export class CheckedExporter {
  constructor(inner, count, onExport) {
    this.inner = inner;
    this.count = count;
    this.onExport = onExport;
    this.inflight = 0;
    this.maxInflight = 0; // the most export() calls in flight at once
    this.exported = 0;
    this.handed = 0; // items the SDK has passed to export() so far
    this.calls = 0;
    this.failures = [];
    if (inner.selectAggregationTemporality) {
      this.selectAggregationTemporality = (t) => inner.selectAggregationTemporality(t);
    }
    if (inner.selectAggregation) this.selectAggregation = (t) => inner.selectAggregation(t);
  }

  export(items, done) {
    const n = this.count(items);
    try {
      this.onExport?.(items);
    } catch (e) {
      this.failures.push(`recording the expected data: ${e.stack}`);
    }
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    this.calls++;
    this.handed += n;
    this.inner.export(items, (result) => {
      this.inflight--;
      if (result.code === EXPORT_SUCCESS) this.exported += n;
      else this.failures.push(`export of ${n} items failed: ${result.error?.stack ?? result.error ?? 'no error given'}`);
      done(result);
    });
  }

  forceFlush() { return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve(); }
  shutdown() { return this.inner.shutdown(); }
}

// ---- output ----

export async function writeLines(path, header, records) {
  const out = createWriteStream(path);
  const write = async (obj) => {
    if (!out.write(`${JSON.stringify(obj)}\n`)) await once(out, 'drain');
  };
  await write(header);
  for (const r of records) await write(r);
  out.end();
  await once(out, 'finish');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

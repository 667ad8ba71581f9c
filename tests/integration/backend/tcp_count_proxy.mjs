#!/usr/bin/env node
// tcp_count_proxy.mjs -- forwards 127.0.0.1:--listen to 127.0.0.1:--target and
// counts the TCP connections it accepts, so that a test can see how many
// connections an exporter opens to its backend. After each accept and close,
// --stats holds {"accepted": N, "open": M, "max_open": K}.
//
//   tcp_count_proxy.mjs --listen P --target Q --stats F --ready F

import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: { listen: { type: 'string' }, target: { type: 'string' }, stats: { type: 'string' }, ready: { type: 'string' } },
  strict: true,
});
if (!o.listen || !o.target || !o.stats || !o.ready) {
  console.error('--listen, --target, --stats and --ready are required');
  process.exit(2);
}
const stats = { accepted: 0, open: 0, max_open: 0 };
const save = () => writeFileSync(o.stats, `${JSON.stringify(stats)}\n`);

const server = createServer((client) => {
  stats.accepted++;
  stats.open++;
  stats.max_open = Math.max(stats.max_open, stats.open);
  save();
  const upstream = connect(Number(o.target), '127.0.0.1');
  client.pipe(upstream);
  upstream.pipe(client);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    stats.open--;
    save();
    client.destroy();
    upstream.destroy();
  };
  client.on('close', close).on('error', close);
  upstream.on('close', close).on('error', close);
});
server.listen(Number(o.listen), '127.0.0.1', () => {
  save();
  writeFileSync(o.ready, 'ok\n');
});
process.on('SIGTERM', () => process.exit(0));

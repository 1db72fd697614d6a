// The events service's two durable logs side by side (services.events.backend): Log calls answered
// per second and their latency under concurrent callers, and the start-up replay of what they wrote.
// On a tiny world, C concurrent callers send N keyed Log calls of E click events each to the file log
// (fsync per group commit) and to JetStream (a local nats-server 2.9, one message per event, acked
// after the broker's publish acks); then a new service starts on what was written.
//   node --import tsx bench/events-backends.ts [--calls 2000] [--events 5] [--concurrency 32] [--doc]
import { mkdtempSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { JetStreamSchema } from '../libs/config/mesh.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { startEvents, type EventsOptions } from '../services/events/events-service.js';
import { startNatsServer } from '../services/ops/mesh/nats-server.js';
import { machine, percentile, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2000' },
    events: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    doc: { type: 'boolean', default: false },
  },
});
const [calls, perCall, concurrency] = [Number(values.calls), Number(values.events), Number(values.concurrency)];

const work = mkdtempSync(join(tmpdir(), 'feedloom-events-backends-'));
const nats = await startNatsServer({ port: 0, storeDir: join(work, 'nats') });
try {
  const base = join(work, 'base');
  await simulateWorld({ preset: 'tiny', seed: 5, dir: base, log: () => {} });
  const rows: (string | number)[][] = [];
  const backends: [string, Partial<EventsOptions>][] = [
    ['file', {}],
    ['jetstream', { backend: 'jetstream', jetstream: JetStreamSchema.parse({ servers: [nats.url] }) }],
  ];
  for (const [name, options] of backends) {
    const dir = join(work, name);
    cpSync(base, dir, { recursive: true });
    const server = await startEvents({ worldDir: dir, port: 0, report: () => {}, ...options });
    const client = connect(EventsClient, server.address);
    const latencies: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let call = next++; call < calls; call = next++) {
          const events = Array.from({ length: perCall }, (_, k) => ({
            userId: `u${(call * perCall + k) % 2_000}`,
            itemId: `i${(call + k) % 1_000}`,
            action: ActionType.ACTION_TYPE_CLICK,
            timeMs: 0,
            boardId: '',
            source: 'bench',
            requestId: '',
          }));
          const t = performance.now();
          await callUnary(client, 'log', { idempotencyKey: `${name}-${call}`, events }, { timeoutMs: 30_000 });
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    client.close();
    await server.stop();
    const restart = performance.now();
    const again = await startEvents({ worldDir: dir, port: 0, report: () => {}, ...options });
    const replayMs = performance.now() - restart;
    await again.stop();
    rows.push([
      name,
      Math.round(calls / seconds),
      Math.round((calls * perCall) / seconds),
      percentile(latencies, 50).toFixed(1),
      percentile(latencies, 99).toFixed(1),
      Math.round(replayMs),
    ]);
    console.log(rows.at(-1)!.join('  '));
  }
  const body =
    `${calls} keyed Log calls of ${perCall} click events each, ${concurrency} concurrent callers, over gRPC on one machine (${machine()}); ` +
    `then a new events service starts on the ${calls * perCall} events written (on top of the tiny world's history).\n\n` +
    table(['backend', 'Log calls/s', 'events/s', 'p50 ms', 'p99 ms', 'start-up with them, ms'], rows);
  console.log(body);
  if (values.doc)
    writeSection(
      'events-backends',
      'The events service on the file log and on JetStream (issue 17)',
      `node --import tsx bench/events-backends.ts --calls ${calls} --events ${perCall} --concurrency ${concurrency} --doc`,
      body,
    );
} finally {
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}

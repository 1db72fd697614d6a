// Events replicas owning partitions of the JetStream stream (services.events.replicas): what a
// replica's start-up replay costs when it reads only its partitions, and what the forwarding hop
// adds when a call reaches a replica that does not own the user. Two replicas run as their own
// processes (services/events/main.ts --replica), on a tiny world and a local nats-server 2.9.
//   node --import tsx bench/events-replicas.ts [--messages 40000] [--calls 1000]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { EventsClient, type Event } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { JetStreamSchema, loadMeshConfig } from '../libs/config/mesh.js';
import { meshTokensOf } from '../libs/bootstrap/credentials.js';
import { eventSubject, partitionOf } from '../libs/data/event-stream.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { JetStreamLog } from '../services/events/jetstream-log.js';
import { startNatsServer } from '../services/ops/mesh/nats-server.js';
import { machine, percentile } from './lib.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '40000' }, calls: { type: 'string', default: '1000' } },
});
const [messages, calls] = [Number(values.messages), Number(values.calls)];
const PARTITIONS = 16;

const work = mkdtempSync(join(tmpdir(), 'feedloom-events-replicas-'));
const nats = await startNatsServer({ port: 0, storeDir: join(work, 'nats') });
const children: ChildProcess[] = [];
try {
  console.log(`${machine()}, ${messages} messages, ${calls} calls per row`);
  await replay();
  await hop();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Start-up replay of every partition against a replica's share of them. */
async function replay(): Promise<void> {
  const settings = JetStreamSchema.parse({ servers: [nats.url], stream: 'REPLAY', partitions: PARTITIONS });
  await (await JetStreamLog.open(settings, new Map())).log.close(); // makes the stream
  const nc = await natsConnect({ servers: [nats.url] });
  const js = jetstream(nc);
  for (let i = 0; i < messages; i += 500)
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => {
        const user = `u${(i + j) % 5000}`;
        const record = { user_id: user, item_id: `i${i + j}`, action: 'click', time_ms: 1.7e12, board_id: '' };
        return js.publish(
          eventSubject(settings.subjectPrefix, partitionOf(user, PARTITIONS), '2023-11-14'),
          JSON.stringify(record),
        );
      }),
    );
  await nc.close();
  const shares: [string, number[] | undefined][] = [
    ['every partition (one events process)', undefined],
    ['8 of 16 (replica 0 of 2)', [0, 2, 4, 6, 8, 10, 12, 14]],
    ['4 of 16 (replica 0 of 4)', [0, 4, 8, 12]],
  ];
  for (const [label, owned] of shares)
    for (let run = 0; run < 2; run++) {
      const started = performance.now();
      const opened = await JetStreamLog.open(settings, new Map(), owned);
      const ms = performance.now() - started;
      console.log(`replay, ${label}: ${opened.replay.events.length} events in ${ms.toFixed(0)} ms`);
      await opened.log.close();
    }
}

/** Calls to replica 0 about its own users against users replica 1 owns (one forwarding hop). */
async function hop(): Promise<void> {
  const world = join(work, 'world');
  await simulateWorld({ preset: 'tiny', seed: 5, dir: world, log: () => {} });
  const ports = [await freePort(), await freePort()];
  const replicas = ports.map((p) => ({ address: `127.0.0.1:${p}` }));
  const config = join(work, 'mesh.json');
  writeFileSync(
    config,
    JSON.stringify({
      world: { dir: world, existing: true },
      telemetry: { metricsPortOffset: 0 },
      services: {
        events: {
          port: ports[0],
          backend: 'jetstream',
          jetstream: {
            servers: [nats.url],
            stream: 'HOP',
            subjectPrefix: 'hop.events',
            partitions: PARTITIONS,
            managed: false,
          },
          replicas,
        },
        blender: { port: ports[0] + 100 },
      },
      generators: [{ name: 'popular', port: ports[0] + 101 }],
    }),
  );
  for (const self of [0, 1]) children.push(await startReplica(config, self));
  const mesh = loadMeshConfig(config);
  const client = connect(EventsClient, replicas[0].address, {
    token: meshTokensOf(mesh.security, world).adminToken,
    inProcess: false,
  });
  const users = Array.from({ length: 400 }, (_, i) => `user-${i}`);
  const [mine, theirs] = [0, 1].map((o) => users.filter((u) => partitionOf(u, PARTITIONS) % 2 === o));
  const click = (userId: string): Event => ({
    userId,
    itemId: 'bench-item',
    action: ActionType.ACTION_TYPE_CLICK,
    timeMs: 0,
    boardId: '',
    source: '',
    requestId: '',
  });
  const T = { timeoutMs: 5_000 };
  const rows: [string, (i: number) => Promise<unknown>][] = [
    [
      'GetUserContext, asked the owner',
      (i) => callUnary(client, 'getUserContext', { userId: mine[i % mine.length], maxActions: 100 }, T),
    ],
    [
      'GetUserContext, forwarded one hop',
      (i) => callUnary(client, 'getUserContext', { userId: theirs[i % theirs.length], maxActions: 100 }, T),
    ],
    [
      'Log of 2 events, both owned here',
      (i) =>
        callUnary(
          client,
          'log',
          { idempotencyKey: '', events: [click(mine[i % mine.length]), click(mine[(i + 1) % mine.length])] },
          T,
        ),
    ],
    [
      'Log of 2 events, one per replica',
      (i) =>
        callUnary(
          client,
          'log',
          { idempotencyKey: '', events: [click(mine[i % mine.length]), click(theirs[i % theirs.length])] },
          T,
        ),
    ],
  ];
  for (let run = 0; run < 2; run++)
    for (const [label, call] of rows) {
      for (let i = 0; i < 100; i++) await call(i); // warm
      const ms: number[] = [];
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        await call(i);
        ms.push(performance.now() - started);
      }
      console.log(`${label}: p50 ${percentile(ms, 50).toFixed(2)} ms, p99 ${percentile(ms, 99).toFixed(2)} ms`);
    }
  client.close();
}

async function startReplica(config: string, replica: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'services/events/main.ts', '--config', config, '--replica', String(replica)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`events replica ${replica} exited with ${code}`)));
  });
  return child;
}

/** A port that was free a moment ago (the replicas' addresses are in the config before they start). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

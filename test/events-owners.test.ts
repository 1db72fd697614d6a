import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import type { RunningServer } from '../libs/bootstrap/server.js';
import { eventsOwnershipOf } from '../libs/config/events-replicas.js';
import { JetStreamSchema } from '../libs/config/mesh.js';
import { partitionOf } from '../libs/data/event-stream.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { startEvents } from '../services/events/events-service.js';
import { serverComponents, startInProcess } from '../services/servers.js';
import { FORWARDED_FROM } from '../services/events/owner-routing.js';
import { activeUsers, click, worldRows } from './fixtures/events.js';
import { freePorts } from './fixtures/learned.js';
import { testAdminToken, testMeshConfig, testMeshToken, testServerSecurity } from './fixtures/mesh.js';
import { natsMissing, startTestNats } from './fixtures/nats.js';

/**
 * Two events replicas on one JetStream stream, each owning half its partitions: each keeps only its
 * users, any of them answers for every user (forwarding to the owner), and a replica killed and
 * started again rebuilds its users from its partitions.
 */

const T = { timeoutMs: 5_000 };
const PARTITIONS = 4;

let worldDir: string;
let nats: Awaited<ReturnType<typeof startTestNats>>;
const jetstream = () =>
  JetStreamSchema.parse({
    servers: [nats.url],
    stream: 'OWNERS',
    subjectPrefix: 'owners.events',
    partitions: PARTITIONS,
  });

beforeAll(async () => {
  if (natsMissing) return;
  worldDir = await mkdtemp(join(tmpdir(), 'events-owners-'));
  await simulateWorld({ preset: 'tiny', seed: 11, dir: worldDir, log: () => {} });
  nats = await startTestNats();
}, 120_000);
afterAll(async () => {
  await nats?.stop();
  if (worldDir) await rm(worldDir, { recursive: true, force: true });
});

describe.skipIf(natsMissing !== undefined)('events replicas owning partitions', () => {
  it('serves every user through either replica, keeps each user on its owner, and rebuilds a restarted one', async () => {
    const ports = await freePorts(2);
    const replicas = ports.map((p) => ({ address: `127.0.0.1:${p}` }));
    const ownerOf = (user: string) => partitionOf(user, PARTITIONS) % 2;
    const reports: string[][] = [[], []];
    const start = (self: number): Promise<RunningServer> =>
      startEvents({
        worldDir,
        port: ports[self],
        security: testServerSecurity(),
        backend: 'jetstream',
        jetstream: jetstream(),
        owners: {
          ownership: eventsOwnershipOf({ replicas, jetstream: { partitions: PARTITIONS } }, self)!,
          channel: { token: testMeshToken() },
        },
        report: (line) => reports[self].push(line),
      });
    const servers = [await start(0), await start(1)];
    const clients = replicas.map((r) => connect(EventsClient, r.address, { token: testAdminToken() }));
    const [a, b] = clients;
    const items = async (client: EventsClient, user: string): Promise<string[]> =>
      ((await callUnary(client, 'getUserContext', { userId: user, maxActions: 1000 }, T)) as UserContext).recentActions
        .map((x) => x.itemId)
        .filter((id) => id.startsWith('owned-'));
    try {
      // Users with a history, of both owners.
      const active = await activeUsers(worldDir, 40);
      const [ua1, ua2] = active.filter((u) => ownerOf(u) === 0);
      const [ub1, ub2] = active.filter((u) => ownerOf(u) === 1);
      expect([ua1, ua2, ub1, ub2].every(Boolean)).toBe(true);

      // Each replica loaded only its own users.
      const worldUsers = (
        await worldRows<{ user_id: string }>(worldDir, 'SELECT user_id FROM users UNION SELECT user_id FROM events')
      ).map((r) => r.user_id);
      const loaded = (self: number) =>
        Number(
          new RegExp(`replica ${self} of 2: loaded (\\d+) users`).exec(reports[self].join('\n'))?.[1] ?? Number.NaN,
        );
      const owned = (self: number) => new Set(worldUsers.filter((u) => ownerOf(u) === self)).size;
      expect(loaded(0)).toBe(owned(0));
      expect(loaded(1)).toBe(owned(1));
      expect(owned(0)).toBeGreaterThan(0);
      expect(owned(1)).toBeGreaterThan(0);

      // One keyed Log through A for users of both replicas: split, written by each owner, acknowledged once all are.
      const events = [click(ua1, 'owned-1'), click(ub1, 'owned-2'), click(ub2, 'owned-3'), click(ua2, 'owned-4')];
      const first = await callUnary(a, 'log', { events, idempotencyKey: 'mixed-1' }, T);
      expect(first).toMatchObject({ accepted: 4, duplicate: false });
      // Retried through the other replica (DNS round robin): the same answer, nothing written twice.
      expect(await callUnary(b, 'log', { events, idempotencyKey: 'mixed-1' }, T)).toEqual({
        ...first,
        duplicate: true,
      });
      expect(await callUnary(a, 'log', { events, idempotencyKey: 'mixed-1' }, T)).toEqual({
        ...first,
        duplicate: true,
      });
      expect(await streamMessages()).toBe(4);

      // GetUserContext through either replica returns each user's events.
      for (const client of clients) {
        expect(await items(client, ua1)).toEqual(['owned-1']);
        expect(await items(client, ub1)).toEqual(['owned-2']);
        expect(await items(client, ub2)).toEqual(['owned-3']);
        expect(await items(client, ua2)).toEqual(['owned-4']);
      }
      // A replica does not hold the other's users: asked directly (marked as forwarded), it refuses.
      const forwarded = new Metadata();
      forwarded.set(FORWARDED_FROM, '0');
      const direct = await new Promise<{ code: number; details: string }>((resolve) =>
        b.getUserContext({ userId: ua1, maxActions: 10 }, forwarded, (err) => resolve(err!)),
      );
      expect(direct.code).toBe(status.FAILED_PRECONDITION);
      expect(direct.details).toContain(`replica 0 (${replicas[0].address})`);

      // B stops: its users are unavailable through A, naming B; A's own users still log and serve.
      await servers[1].stop(100);
      await expect(callUnary(a, 'getUserContext', { userId: ub1, maxActions: 10 }, T)).rejects.toMatchObject({
        code: status.UNAVAILABLE,
        details: expect.stringContaining(`events replica 1 (${replicas[1].address})`),
      });
      const whileDown = [click(ua1, 'owned-5'), click(ub1, 'owned-6')];
      await expect(callUnary(a, 'log', { events: whileDown, idempotencyKey: 'mixed-2' }, T)).rejects.toMatchObject({
        code: status.UNAVAILABLE,
      });
      // The parts are independent writes: A's part is stored and served (newest first), B's is not.
      expect(await items(a, ua1)).toEqual(['owned-5', 'owned-1']);

      // B again: it rebuilds its users from its partitions and serves them, through A too.
      servers[1] = await start(1);
      for (const client of clients) {
        expect(await items(client, ub1)).toEqual(['owned-2']);
        expect(await items(client, ub2)).toEqual(['owned-3']);
      }
      expect(reports[1].join('\n')).toMatch(/partitions 1, 3\): 2 messages/);
      // The refused call retried with its key: A's part is not written again, B's is written once.
      expect(await callUnary(a, 'log', { events: whileDown, idempotencyKey: 'mixed-2' }, T)).toMatchObject({
        accepted: 2,
        duplicate: false,
      });
      expect(await items(b, ua1)).toEqual(['owned-5', 'owned-1']);
      expect(await items(b, ub1)).toEqual(['owned-6', 'owned-2']);
      expect(await streamMessages()).toBe(6);
    } finally {
      for (const c of clients) c.close();
      for (const s of servers) await s.stop(100).catch(() => undefined);
    }
  }, 120_000);

  it('loses no acknowledged event when a replica process is killed -9 while Log calls flow, and writes no retry twice', async () => {
    const { path, replicas } = await replicasConfig('OWNERS_KILL');
    const ownerOf = (user: string) => partitionOf(user, PARTITIONS) % 2;
    const active = await activeUsers(worldDir, 40);
    const byOwner = [0, 1].map((o) => active.filter((u) => ownerOf(u) === o).slice(0, 4));
    const processes = [await startReplica(path, 0), await startReplica(path, 1)];
    const clients = replicas.map((r) => connect(EventsClient, r.address, { token: testAdminToken() }));
    try {
      // Callers log through A, each call one event for a user of A and one for a user of B.
      type Call = {
        key: string;
        events: ReturnType<typeof click>[];
        answer?: { accepted: number; lastSequence: number };
      };
      const calls: Call[] = [];
      let stop = false;
      const caller = async (c: number) => {
        for (let n = 0; !stop; n++) {
          const call: Call = {
            key: `kill-${c}-${n}`,
            events: [click(byOwner[0][n % 4], `kill-${c}-${n}-a`), click(byOwner[1][(n + c) % 4], `kill-${c}-${n}-b`)],
          };
          calls.push(call);
          call.answer = await callUnary(clients[0], 'log', { events: call.events, idempotencyKey: call.key }, T).catch(
            () => undefined,
          );
        }
      };
      const callers = [0, 1, 2, 3].map(caller);
      while (calls.filter((c) => c.answer).length < 20) await new Promise((r) => setTimeout(r, 20));
      processes[1].child.kill('SIGKILL');
      await exited(processes[1].child);
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(callers);
      const acked = calls.filter((c) => c.answer);
      expect(acked.length).toBeGreaterThanOrEqual(20);
      expect(calls.length).toBeGreaterThan(acked.length); // some were refused while B was down

      processes[1] = await startReplica(path, 1);
      // The test's channel to B was backing off while B was down.
      await new Promise<void>((resolve, reject) =>
        clients[1].waitForReady(Date.now() + 10_000, (err) => (err ? reject(err) : resolve())),
      );
      expect(processes[1].stderr.join('\n')).toMatch(/replica 1 of 2: loaded \d+ users/);
      // Every call retried through B: the acknowledged ones are answered as they were, the rest written now.
      for (const call of calls) {
        const again = await callUnary(clients[1], 'log', { events: call.events, idempotencyKey: call.key }, T);
        if (call.answer) expect(again).toEqual({ ...call.answer, duplicate: true });
        else expect(again.accepted).toBe(2);
      }
      // Each event once, through either replica; one stream message per event.
      for (const client of clients)
        for (const user of [...byOwner[0], ...byOwner[1]]) {
          const items = (await callUnary(client, 'getUserContext', { userId: user, maxActions: 1000 }, T)).recentActions
            .map((a) => a.itemId)
            .filter((id) => id.startsWith('kill-'));
          const expected = calls.flatMap((c) => c.events.filter((e) => e.userId === user).map((e) => e.itemId));
          expect([...items].sort()).toEqual([...expected].sort());
        }
      expect(await streamMessages('OWNERS_KILL')).toBe(2 * calls.length);
    } finally {
      for (const c of clients) c.close();
      for (const p of processes) p.child.kill('SIGKILL');
    }
  }, 180_000);

  it('gives `up` one component per replica (events.<r>, on its own port) that route to each other in one process', async () => {
    const { mesh, ports } = await replicasConfig('OWNERS_UP');
    const events = serverComponents(mesh).filter((c) => c.name.startsWith('events'));
    expect(events.map((c) => [c.name, c.port])).toEqual([
      ['events.0', ports[0]],
      ['events.1', ports[1]],
    ]);
    // Offline jobs on ephemeral ports: one events server owning every partition.
    expect(
      serverComponents(mesh, { ephemeralPorts: true })
        .filter((c) => c.name.startsWith('events'))
        .map((c) => c.name),
    ).toEqual(['events']);
    const running = await startInProcess(mesh, events);
    const clients = ports.map((p) => connect(EventsClient, `127.0.0.1:${p}`, { token: testAdminToken() }));
    try {
      const users = await activeUsers(worldDir, 40);
      const [ua, ub] = [0, 1].map((o) => users.find((u) => partitionOf(u, PARTITIONS) % 2 === o)!);
      expect(
        await callUnary(
          clients[0],
          'log',
          { events: [click(ua, 'up-a'), click(ub, 'up-b')], idempotencyKey: 'up-1' },
          T,
        ),
      ).toMatchObject({ accepted: 2, duplicate: false });
      for (const client of clients)
        for (const [user, item] of [
          [ua, 'up-a'],
          [ub, 'up-b'],
        ])
          expect(
            (await callUnary(client, 'getUserContext', { userId: user, maxActions: 10 }, T)).recentActions[0].itemId,
          ).toBe(item);
    } finally {
      for (const c of clients) c.close();
      await running.stop();
    }
  }, 120_000);
});

/** A mesh config file of two events replicas on free ports, on its own stream of the test broker. */
async function replicasConfig(stream: string) {
  const ports = await freePorts(2);
  const replicas = ports.map((p) => ({ address: `127.0.0.1:${p}` }));
  const config = testMeshConfig(worldDir, (raw) => {
    raw.telemetry = { metricsPortOffset: 0 };
    raw.services.events = {
      port: ports[0],
      backend: 'jetstream',
      jetstream: {
        servers: [nats.url],
        stream,
        subjectPrefix: `${stream.toLowerCase()}.events`,
        partitions: PARTITIONS,
        managed: false,
      },
      replicas,
    };
  });
  return { ...config, ports, replicas };
}

const MAIN = join(import.meta.dirname, '..', 'services', 'events', 'main.ts');

/** An events replica as its own process (services/events/main.ts --replica), once it listens. */
async function startReplica(config: string, replica: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--config', config, '--replica', String(replica)], {
    cwd: join(import.meta.dirname, '..'),
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`replica ${replica} exited with ${code}:\n${stderr.join('\n')}`)));
  });
  return { child, stderr };
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/** The messages in a stream, read from the broker itself. */
async function streamMessages(stream = 'OWNERS'): Promise<number> {
  const nc = await natsConnect({ servers: [nats.url] });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

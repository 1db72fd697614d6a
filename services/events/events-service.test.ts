import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { EventsClient, type Event } from '../../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../../libs/bootstrap/client.js';
import type { RunningServer } from '../../libs/bootstrap/server.js';
import { simulateWorld } from '../../libs/data/simulator/index.js';
import { DAY_MS, type WorldManifest } from '../../libs/data/world.js';
import { startEvents } from './events-service.js';
import { writerLockOf } from './world-writer.js';
import { LiveLog } from './live-log.js';
import { testAdminToken, testServerSecurity } from '../../test/fixtures/mesh.js';
import { click } from '../../test/fixtures/events.js';

const T = { timeoutMs: 5_000 };

let world: string;
let manifest: WorldManifest;
beforeAll(async () => {
  world = await mkdtemp(join(tmpdir(), 'events-service-'));
  manifest = await simulateWorld({ preset: 'tiny', seed: 11, dir: world, log: () => {} });
});
afterAll(async () => {
  await rm(world, { recursive: true, force: true });
});

async function withEvents(
  options: { asOfMs?: number; maxIds?: number },
  use: (client: EventsClient, server: RunningServer) => Promise<void>,
) {
  const server = await startEvents({
    worldDir: world,
    port: 0,
    report: () => {},
    security: testServerSecurity(),
    ...options,
  });
  // GetUserContext is an operation: the admin token.
  const client = connect(EventsClient, server.address, { token: testAdminToken() });
  try {
    await use(client, server);
  } finally {
    client.close();
    await server.stop(100);
  }
}

describe('startEvents', () => {
  it('serves the present: logged events show up at once, on the world clock', async () => {
    const worldEnd = manifest.startMs + manifest.days * DAY_MS;
    await withEvents({}, async (client) => {
      const ack = await callUnary(client, 'log', { idempotencyKey: '', events: [click('u1', 'fresh-item')] }, T);
      expect(ack.accepted).toBe(1);
      const ctx = await callUnary(client, 'getUserContext', { userId: 'u1', maxActions: 0 }, T);
      expect(ctx.recentActions[0]).toMatchObject({ itemId: 'fresh-item', type: ActionType.ACTION_TYPE_CLICK });
      expect(ctx.recentActions[0].timeMs).toBeGreaterThanOrEqual(worldEnd);
      expect(ctx.requestTimeMs).toBeGreaterThanOrEqual(ctx.recentActions[0].timeMs);
      expect(ctx.recentActions.length).toBeLessThanOrEqual(100);
    });
  });

  it('serves the world as of an earlier time, read-only', async () => {
    const asOfMs = manifest.startMs + 3 * DAY_MS;
    await withEvents({}, async (client) => {
      await callUnary(client, 'log', { idempotencyKey: '', events: [click('u0', 'later-item')] }, T);
    });
    await withEvents({ asOfMs }, async (client) => {
      const contexts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          callUnary(client, 'getUserContext', { userId: `u${i}`, maxActions: 1000 }, T),
        ),
      );
      const actions = contexts.flatMap((c) => c.recentActions);
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.every((a) => a.timeMs < asOfMs)).toBe(true);
      // In the live log, but after asOfMs.
      expect(actions.map((a) => a.itemId)).not.toContain('later-item');
      expect(contexts[0].requestTimeMs - asOfMs).toBeGreaterThanOrEqual(0);
      expect(contexts[0].requestTimeMs - asOfMs).toBeLessThan(60_000);
      await expect(
        callUnary(client, 'log', { idempotencyKey: '', events: [click('u1', 'i1')] }, T),
      ).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    });
  });

  it('acknowledges a retried keyed Log once, also after a restart, and refuses a key reused for other events', async () => {
    const events = [click('u7', 'retry-a'), click('u7', 'retry-b')];
    const count = async (client: EventsClient) =>
      (await callUnary(client, 'getUserContext', { userId: 'u7', maxActions: 1000 }, T)).recentActions.filter((a) =>
        a.itemId.startsWith('retry-'),
      ).length;
    let first!: { accepted: number; lastSequence: number };
    await withEvents({}, async (client) => {
      first = await callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T);
      expect(first).toMatchObject({ accepted: 2, duplicate: false });
      // Two retries at once, while nothing else is written: both get the first answer.
      const retries = await Promise.all(
        [1, 2].map(() => callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T)),
      );
      for (const r of retries) expect(r).toEqual({ accepted: 2, lastSequence: first.lastSequence, duplicate: true });
      expect(await count(client)).toBe(2);
      await expect(
        callUnary(client, 'log', { events: [click('u7', 'other')], idempotencyKey: 'call-1' }, T),
      ).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        details: expect.stringContaining('idempotency_key "call-1" was already used'),
      });
      await expect(callUnary(client, 'log', { events, idempotencyKey: 'bad\u0001key' }, T)).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('idempotency_key'),
      });
    });
    // A new process knows the key from the log itself.
    await withEvents({}, async (client) => {
      expect(await callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T)).toEqual({
        ...first,
        duplicate: true,
      });
      expect(await count(client)).toBe(2);
      // Without a key, the same events are new events.
      expect((await callUnary(client, 'log', { idempotencyKey: '', events }, T)).duplicate).toBe(false);
      expect(await count(client)).toBe(4);
    });
  });

  it('lets one events service write a world: a second one serves reads and refuses Log naming the writer', async () => {
    await withEvents({}, async (writer) => {
      expect((await callUnary(writer, 'log', { idempotencyKey: '', events: [click('u5', 'w1')] }, T)).accepted).toBe(1);
      await withEvents({}, async (reader) => {
        await expect(
          callUnary(reader, 'log', { idempotencyKey: '', events: [click('u5', 'w2')] }, T),
        ).rejects.toMatchObject({
          code: status.FAILED_PRECONDITION,
          details: expect.stringContaining(`an events service (pid ${process.pid} on host ${hostname()}`),
        });
        const ctx = await callUnary(reader, 'getUserContext', { userId: 'u5', maxActions: 10 }, T);
        expect(ctx.recentActions.map((a) => a.itemId)).toContain('w1');
      });
      // The reader stopping leaves the writer's lock alone.
      expect((await callUnary(writer, 'log', { idempotencyKey: '', events: [click('u5', 'w3')] }, T)).accepted).toBe(1);
    });
    // A lock left by a process that is gone from this host is broken.
    await writeFile(
      writerLockOf(world),
      JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), sinceMs: 0, what: 'an events service' }),
    );
    await withEvents({}, async (client) => {
      expect((await callUnary(client, 'log', { idempotencyKey: '', events: [click('u5', 'w4')] }, T)).accepted).toBe(1);
    });
  });

  it('refuses new ids past services.events.maxIds, and still takes events on known ids', async () => {
    await withEvents({ maxIds: 1 }, async (client) => {
      const known = (await callUnary(client, 'getUserContext', { userId: 'u1', maxActions: 1 }, T)).recentActions[0];
      expect(known).toBeDefined();
      expect(
        (await callUnary(client, 'log', { idempotencyKey: '', events: [click('u1', known.itemId)] }, T)).accepted,
      ).toBe(1);
      await expect(
        callUnary(client, 'log', { idempotencyKey: '', events: [click('u1', 'never-seen-item')] }, T),
      ).rejects.toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
        details: expect.stringContaining('services.events.maxIds'),
      });
      const after = await callUnary(client, 'getUserContext', { userId: 'u1', maxActions: 1000 }, T);
      expect(after.recentActions.map((a) => a.itemId)).not.toContain('never-seen-item');
    });
  });

  // Last in this file: it logs an event ahead of the clock into the shared world.
  it('resumes its clock after a restart from its own receive time, not an event time a client chose', async () => {
    let before = 0;
    await withEvents({}, async (client) => {
      before = (await callUnary(client, 'getUserContext', { userId: 'u3', maxActions: 0 }, T)).requestTimeMs;
      // 20 hours ahead: inside the default future window (maxEventFutureMs, 1 day).
      const ahead = { ...click('u3', 'from-the-future'), timeMs: before + 20 * 3_600_000 };
      expect((await callUnary(client, 'log', { idempotencyKey: '', events: [ahead] }, T)).accepted).toBe(1);
    });
    await withEvents({}, async (client) => {
      const after = (await callUnary(client, 'getUserContext', { userId: 'u3', maxActions: 0 }, T)).requestTimeMs;
      expect(after).toBeGreaterThanOrEqual(before);
      expect(after - before).toBeLessThan(3_600_000);
    });
  });

  it('warns at start-up when the live log holds more days than the daily compaction would leave', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'events-live-days-'));
    try {
      await cp(world, dir, { recursive: true, filter: (src) => !src.endsWith('writer.lock') });
      const worldEnd = manifest.startMs + manifest.days * DAY_MS;
      const { log } = await LiveLog.open(dir);
      const day = (d: number) => ({
        ...click('u1', `day-${d}`),
        action: 'click' as const,
        timeMs: worldEnd + d * DAY_MS,
      });
      await log.append([0, 1, 2, 3, 4].map(day));
      await log.close();
      const lines: string[] = [];
      const server = await startEvents({ worldDir: dir, port: 0, report: (l) => lines.push(l) });
      await server.stop(100);
      expect(lines.join('\n')).toMatch(/live log holds events of [5-9] days not compacted .*schedule\.compaction/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { popularity as popularityJob } from '../libs/data/batch/jobs/popularity.js';
import { callUnary } from '../libs/bootstrap/client.js';
import { JetStreamSchema, type JetStreamSettings } from '../libs/config/mesh.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { compactStream } from '../libs/data/stream-compaction.js';
import { DAY_MS, dayKey, worldPaths } from '../libs/data/world.js';
import { click, withTestEvents, worldRows } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { scheduledJobs } from '../services/ops/scheduler/jobs.js';
import { natsMissing, startTestNats } from './fixtures/nats.js';

/** The stream's closed days into Parquet, and out of the stream only once they are verified there. */

const T = { timeoutMs: 5_000 };
const HOUR = 3_600_000;
let world: string;
let worldEnd: number;
let nats: Awaited<ReturnType<typeof startTestNats>>;
let settings: JetStreamSettings;

beforeAll(async () => {
  if (natsMissing) return;
  world = await mkdtemp(join(tmpdir(), 'stream-compaction-'));
  const manifest = await simulateWorld({ preset: 'tiny', seed: 4, dir: world, log: () => {} });
  worldEnd = manifest.startMs + manifest.days * DAY_MS;
  nats = await startTestNats();
  settings = JetStreamSchema.parse({ servers: [nats.url], stream: 'COMPACT' });
});
afterAll(async () => {
  if (natsMissing) return;
  await nats.stop();
  await rm(world, { recursive: true, force: true });
});

/** The events service on the stream for one use; resolves with its report lines. */
const withEvents = (use: (client: EventsClient) => Promise<void>) =>
  withTestEvents({ worldDir: world, backend: 'jetstream', jetstream: settings }, use);

const at = (userId: string, itemId: string, timeMs: number) => ({ ...click(userId, itemId), timeMs });
const items = async (client: EventsClient, userId: string) =>
  (await callUnary(client, 'getUserContext', { userId, maxActions: 1000 }, T)).recentActions
    .map((a) => a.itemId)
    .filter((id) => id.startsWith('c-'))
    .sort();
/** Messages in the stream now (a connection of its own: the broker restarts in this test). */
const streamMessages = async () => {
  const nc = await natsConnect({ servers: nats.url });
  try {
    return (await (await jetstreamManager(nc)).streams.info('COMPACT')).state.messages;
  } finally {
  }
};
const streamParquets = async (day: string) =>
  (await readdir(join(worldPaths(world).events, `day=${day}`))).filter((f) => /^stream-.*\.parquet$/.test(f));
/** Runs work, then puts the broker's store back as it was before: the stream forgets what work purged. */
async function thenRestoreStream(work: () => Promise<void>): Promise<void> {
  const snapshot = `${nats.storeDir}.snapshot`;
  await nats.server().stop();
  await cp(nats.storeDir, snapshot, { recursive: true });
  await nats.restart();
  await work();
  await nats.server().stop();
  await rm(nats.storeDir, { recursive: true, force: true });
  await rename(snapshot, nats.storeDir);
  await nats.restart();
}

describe.skipIf(natsMissing !== undefined)('compaction of the JetStream event stream', () => {
  it('writes closed days to Parquet, purges them only once written, and a crash between the two counts nothing twice', async () => {
    const [twoDaysAgo, yesterday, today] = [
      worldEnd - 2 * DAY_MS + 1_000,
      worldEnd - DAY_MS + 1_000,
      worldEnd + 2 * HOUR,
    ];
    await withEvents(async (client) => {
      const log = (key: string, events: ReturnType<typeof at>[]) =>
        callUnary(client, 'log', { idempotencyKey: key, events }, T);
      await log('old', [
        at('u1', 'c-old-0', twoDaysAgo),
        at('u1', 'c-old-1', twoDaysAgo + 1),
        at('u2', 'c-old-2', twoDaysAgo + 2),
      ]);
      await log('yday', [at('u2', 'c-yday-0', yesterday), at('u2', 'c-yday-1', yesterday + 1)]);
      await log('today', [at('u1', 'c-today', today)]);
    });
    expect(await streamMessages()).toBe(6);

    // A run that dies between writing Parquet and purging: the days are in Parquet and still in the stream.
    let first!: Awaited<ReturnType<typeof compactStream>>;
    await thenRestoreStream(async () => {
      first = await compactStream(world, settings, { closedAfterMs: HOUR });
    });
    expect(first.days.map((d) => [d.day, d.rows])).toEqual([
      [dayKey(twoDaysAgo), 3],
      [dayKey(yesterday), 2],
    ]);
    expect(first.skipped).toEqual([]);
    expect(await streamMessages()).toBe(6);
    // Every event once: the Parquet copy is history, the stream's copy is skipped.
    const report = await withEvents(async (client) => {
      expect(await items(client, 'u1')).toEqual(['c-old-0', 'c-old-1', 'c-today']);
      expect(await items(client, 'u2')).toEqual(['c-old-2', 'c-yday-0', 'c-yday-1']);
    });
    expect(report.join('\n')).toMatch(/1 live events \(stream COMPACT: 6 messages, 5 already compacted/);

    // The next run purges what is in Parquet, writing nothing again; today's day is open and stays.
    const second = await compactStream(world, settings, { closedAfterMs: HOUR });
    expect(second).toEqual({ days: [], skipped: [] });
    expect(await streamMessages()).toBe(1);
    expect(await streamParquets(dayKey(twoDaysAgo))).toHaveLength(1);

    // A late event for a compacted day goes to a second file of that day.
    await withEvents(async (client) => {
      await callUnary(client, 'log', { idempotencyKey: 'late', events: [at('u1', 'c-late', twoDaysAgo + 5)] }, T);
    });
    const third = await compactStream(world, settings, { closedAfterMs: HOUR });
    expect(third.days.map((d) => [d.day, d.rows])).toEqual([[dayKey(twoDaysAgo), 1]]);
    expect(await streamParquets(dayKey(twoDaysAgo))).toHaveLength(2);
    expect(await streamMessages()).toBe(1);
    await withEvents(async (client) => {
      expect(await items(client, 'u1')).toEqual(['c-late', 'c-old-0', 'c-old-1', 'c-today']);
      expect(await items(client, 'u2')).toEqual(['c-old-2', 'c-yday-0', 'c-yday-1']);
    });
    // The batch jobs' view of the event log holds the compacted days, each event once.
    const rows = await worldRows<{ item_id: string }>(
      world,
      `SELECT item_id FROM events WHERE item_id LIKE 'c-%' ORDER BY 1`,
    );
    expect(rows.map((r) => r.item_id)).toEqual(['c-late', 'c-old-0', 'c-old-1', 'c-old-2', 'c-yday-0', 'c-yday-1']);
  });

  it("is part of the scheduler's compaction job when the config chooses the broker", async () => {
    const { mesh } = testMeshConfig(world, (raw) => {
      raw.schedule.compaction = { enabled: true, closedAfter: '1h' };
      raw.services.events.backend = 'jetstream';
      raw.services.events.jetstream = { servers: [nats.url], stream: 'COMPACT' };
    });
    const day = worldEnd - 3 * DAY_MS;
    await withEvents(async (client) => {
      await callUnary(client, 'log', { idempotencyKey: 'job', events: [at('u3', 'c-job', day)] }, T);
    });
    const job = scheduledJobs(mesh).find((j) => j.name === 'compaction')!;
    expect(await job.run(() => {})).toMatch(
      new RegExp(`^0 day\\(s\\) compacted; stream: 1 day\\(s\\) compacted \\(${dayKey(day)}: 1 events\\)$`),
    );
  });

  it("feeds the scheduler's batch run the stream's open days: an item saved today reaches the snapshot before any compaction", async () => {
    const { mesh } = testMeshConfig(world, (raw) => {
      raw.schedule.batch = { enabled: true };
      raw.services.events.backend = 'jetstream';
      raw.services.events.jetstream = { servers: [nats.url], stream: 'COMPACT' };
    });
    // Saves on a catalog item nobody engaged with in the world's last week, from 30 users, today (an open day).
    const [{ item_id: hot }] = await worldRows<{ item_id: string }>(
      world,
      `SELECT item_id FROM items WHERE item_id NOT IN (
         SELECT item_id FROM events WHERE time_ms >= ${worldEnd - 7 * DAY_MS}) ORDER BY item_id LIMIT 1`,
    );
    const now = worldEnd + 3 * HOUR;
    const saves = Array.from({ length: 30 }, (_, i) => ({
      ...at(`u${i}`, hot, now + i),
      action: ActionType.ACTION_TYPE_SAVE,
    }));
    await withEvents(async (client) => {
      await callUnary(client, 'log', { idempotencyKey: 'hot', events: saves }, T);
    });
    const batch = scheduledJobs(mesh).find((j) => j.name === 'batch')!;
    expect(await batch.run(() => {})).toMatch(
      /snapshots published, events up to .* \(\d+ from the stream's open days\)$/,
    );
    const popular = await readSnapshot(worldPaths(world).snapshots, popularityJob);
    // 30 saves at 3 each, minutes old: the stream's events are in, counted once.
    expect(popular.rows.find((r) => r.item_id === hot)?.score).toBeCloseTo(90, 3);
    expect(popular.manifest.asOfMs).toBeGreaterThan(now + 29);
    // Nothing new since: the next run has nothing to do.
    expect(await batch.run(() => {})).toMatch(/nothing to do$/);
  });

  it('fails naming the broker when it cannot be reached, touching nothing', async () => {
    const away = JetStreamSchema.parse({ servers: ['nats://127.0.0.1:1'], stream: 'COMPACT' });
    await expect(compactStream(world, away, { closedAfterMs: HOUR })).rejects.toThrow(
      /the JetStream broker \(nats:\/\/127\.0\.0\.1:1, stream COMPACT\) cannot be reached/,
    );
  });
});

// The scheduler component on the tiny world with second-scale schedules, as its own process next to
// a mesh of real processes (events, viewer, ANN hosts a and b, popular and two_tower, blender):
//   1. events logged live reach the next snapshot versions (a newly popular item tops `popularity`
//      and `trending`);
//   2. a closed day's live file becomes a Parquet file and is removed, its events counted once;
//   3. a retraining cycle is killed mid-run (SIGKILL): nothing serving changes, and the next leader
//      (after the dead one's lease expired) runs the cycle again, publishes a new two_tower version
//      and rolls it out, while Blends flow with zero failures and zero version mismatches.
import { type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { DAY_MS, dayKey, readWorldManifest, worldPaths } from '../libs/data/world.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { spawnComponent } from '../services/ops/mesh/run.js';
import { startAdmin } from '../services/ops/admin/server.js';
import { operatorChannelOf } from '../libs/bootstrap/mesh-security.js';
import {
  formatSchedule,
  readScheduleStatus,
  type JobState,
  type ScheduleStatus,
} from '../services/ops/scheduler/state.js';
import { worldRows } from './fixtures/events.js';
import { trainedRegistry } from './fixtures/learned.js';
import {
  MODEL,
  annServing,
  feedTraffic,
  startLearnedMeshProcesses,
  walkTo,
  type LearnedMeshProcesses,
} from './fixtures/rollout.js';
import { testWorld } from './fixtures/world.js';

/** Polls until check returns a value (not undefined), or fails after withinMs. */
async function until<T>(what: string, check: () => Promise<T | undefined>, withinMs = 300_000): Promise<T> {
  const end = Date.now() + withinMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the scheduler: batch jobs, compaction and retraining on a schedule, one leader at a time', () => {
  let world: string;
  let registryDir: string;
  let mesh: LearnedMeshProcesses;
  let schedulerConfig: string;
  const schedulers: ChildProcess[] = [];
  let ann: ReturnType<typeof annServing>;

  beforeAll(async () => {
    // A copy: the scheduler writes into the world (snapshots, Parquet days, its state).
    world = join(mkdtempSync(join(tmpdir(), 'feedloom-scheduler-')), 'world');
    cpSync(await testWorld(), world, { recursive: true });
    registryDir = await trainedRegistry(world, [1]);
    await runIndexer({ registryDir, worldDir: world, version: 'v0001' });
    await walkTo(registryDir, 'v0001', 'serving');
    mesh = await startLearnedMeshProcesses(world, registryDir);
    ann = annServing(mesh);
    const raw = JSON.parse(readFileSync(mesh.configPath, 'utf8'));
    raw.schedule = {
      batch: { every: '2s' },
      compaction: { every: '2s', closedAfter: '1s', idleFor: '1s' },
      // Due well after the first batch and compaction runs; force: the world did not grow a day.
      retrain: { every: '15s', rollout: true, force: true },
      leaseTtl: '3s',
    };
    // Only two_tower (this mesh has no ranker), few epochs; on the same data a new version may land
    // a little below v0001 (test/retrain-rollout.test.ts), so allow it.
    raw.retrain = {
      ...raw.retrain,
      models: ['two_tower'],
      twoTower: { epochs: 2 },
      gates: { maxRecallDropRelative: 0.5 },
    };
    schedulerConfig = join(mkdtempSync(join(tmpdir(), 'feedloom-scheduler-config-')), 'mesh.json');
    writeFileSync(schedulerConfig, JSON.stringify(raw, null, 2));
  }, 900_000);

  afterAll(async () => {
    for (const child of schedulers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ann?.close();
    await mesh?.stop();
  });

  const job = async (name: string): Promise<JobState | undefined> => (await readScheduleStatus(world)).jobs[name];
  const startScheduler = async () => {
    const started = await spawnComponent(schedulerConfig, 'scheduler');
    schedulers.push(started.child);
    return started.child;
  };

  it('runs the batch jobs over the live log, compacts a closed day, and a killed cycle is finished by the next leader', async () => {
    const manifest = await readWorldManifest(world);
    const worldEndMs = manifest.startMs + manifest.days * DAY_MS;
    const lastDay = dayKey(worldEndMs - 1);
    const snapshots = worldPaths(world).snapshots;
    const before = {
      popularity: (await readSnapshot(snapshots, 'popularity')).version,
      trending: (await readSnapshot(snapshots, 'trending')).version,
    };
    // An item nobody engaged with in the world's last week: it can only become popular live.
    const [{ item_id: item }] = await worldRows<{ item_id: string }>(
      world,
      `SELECT item_id FROM items WHERE item_id NOT IN (
         SELECT item_id FROM events WHERE time_ms >= ${worldEndMs - 7 * DAY_MS}) ORDER BY item_id LIMIT 1`,
    );
    const users = (
      await worldRows<{ user_id: string }>(world, 'SELECT user_id FROM users ORDER BY user_id LIMIT 60')
    ).map((u) => u.user_id);
    const events = connect(EventsClient, `127.0.0.1:${mesh.mesh.services.events.port}`);
    // Back-dated events into the world's last day (closed): they live in the live log until compacted.
    const backDated = users.slice(0, 40).map((userId, i) => ({
      userId,
      itemId: item,
      action: ActionType.ACTION_TYPE_CLICK,
      timeMs: worldEndMs - 3_600_000 + i,
      boardId: '',
      source: 'test',
      requestId: '',
    }));
    await callUnary(events, 'log', { idempotencyKey: '', events: backDated }, { timeoutMs: 10_000 });
    // A burst of saves now: the item is newly popular and trending.
    const burst = users.map((userId) => ({ ...backDated[0], userId, action: ActionType.ACTION_TYPE_SAVE, timeMs: 0 }));
    await new Promise((r) => setTimeout(r, 1_500)); // the world clock moves past the closed day's end + closedAfter
    await callUnary(events, 'log', { idempotencyKey: '', events: burst }, { timeoutMs: 10_000 });
    events.close();
    const closedDayLive = join(worldPaths(world).live, `day=${lastDay}`);
    expect(readdirSync(closedDayLive).filter((f) => f.endsWith('.jsonl')).length).toBe(1);

    const traffic = await feedTraffic(mesh, world);
    const first = await startScheduler();

    // 1. The batch jobs read the live log: new versions, the item on top.
    await until('a batch run', async () => ((await job('batch'))?.lastResult === 'ok' ? true : undefined), 120_000);
    const popularity = await readSnapshot<{ item_id: string }>(snapshots, 'popularity');
    const trending = await readSnapshot<{ item_id: string }>(snapshots, 'trending');
    expect(popularity.version).not.toBe(before.popularity);
    expect(trending.version).not.toBe(before.trending);
    expect(popularity.rows.slice(0, 10).map((r) => r.item_id)).toContain(item);
    expect(trending.rows.slice(0, 10).map((r) => r.item_id)).toContain(item);

    // 2. The closed day's live file is gone, its events are in a readable Parquet file, counted once.
    // Waits for the effect, not for the job's last detail: compaction runs every 2 s here, and a later
    // run (nothing left to compact) overwrites the detail of the one that compacted the day.
    const liveParquets = () =>
      readdirSync(join(worldPaths(world).events, `day=${lastDay}`)).filter((f) => /^live-.*\.parquet$/.test(f));
    await until('a compaction', async () =>
      (await job('compaction'))?.lastResult === 'ok' &&
      readdirSync(closedDayLive).filter((f) => f.endsWith('.jsonl')).length === 0 &&
      liveParquets().length > 0
        ? true
        : undefined,
    );
    const parquets = liveParquets();
    expect(parquets).toHaveLength(1);
    const inParquet = await worldRows<{ n: number }>(
      world,
      `SELECT count(*) AS n FROM read_parquet('${join(worldPaths(world).events, `day=${lastDay}`, parquets[0])}')`,
    );
    expect(inParquet[0].n).toBe(backDated.length);
    const counted = await worldRows<{ day: number; now: number }>(
      world,
      `SELECT count(*) FILTER (WHERE action = 'click') AS day, count(*) FILTER (WHERE action = 'save') AS now
       FROM events WHERE item_id = '${item}' AND source = 'test'`,
    );
    expect(counted[0]).toEqual({ day: backDated.length, now: burst.length });
    // The open day is not compacted.
    expect(existsSync(join(worldPaths(world).live, `day=${dayKey(worldEndMs)}`))).toBe(true);

    // 3. A cycle starts; kill its scheduler mid-cycle.
    const registry = new ModelRegistry(registryDir);
    await until('a retraining cycle under way', async () =>
      (await job('retrain'))?.running && (await registry.list(MODEL)).some((v) => v.version === 'v0002')
        ? true
        : undefined,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(await ann.served()).toEqual({ a: 'v0001', b: 'v0001' });
    expect((await registry.get(MODEL, 'v0001')).state).toBe('serving');
    expect(['training', 'trained']).toContain((await registry.get(MODEL, 'v0002')).state);

    // The next leader takes over once the dead one's lease expired, and runs the cycle again.
    const second = await startScheduler();
    const retrain = await until(
      'the next leader to finish the cycle',
      async () => {
        const state = await job('retrain');
        return state?.lastResult === 'ok' ? state : undefined;
      },
      600_000,
    );
    // The status page and `feedloom status` show each job's last and next run and its result.
    const admin = await startAdmin(mesh.mesh, { port: 0, sampleEveryMs: 600_000, probeTimeoutMs: 5_000 });
    // The status page is an operation: the admin token.
    const headers = { authorization: `Bearer ${operatorChannelOf(mesh.mesh).token}` };
    try {
      const html = await (await fetch(admin.url, { headers })).text();
      for (const name of ['compaction', 'batch', 'retrain']) expect(html).toContain(`<tr data-job="${name}">`);
      const page = (await (await fetch(new URL('/status.json', admin.url), { headers })).json()) as {
        schedule: ScheduleStatus;
      };
      // The last finished run of each stays in the state while a new one runs.
      expect(page.schedule.jobs.retrain).toMatchObject({ everyMs: 15_000, lastResult: 'ok' });
      expect(page.schedule.jobs.compaction).toMatchObject({ everyMs: 2_000, lastResult: 'ok' });
    } finally {
      await admin.stop();
    }
    expect(formatSchedule(await readScheduleStatus(world))).toMatch(
      /\n {2}retrain +every 15s, next [^;]+; (running since|last \S+ ok: cycle)/,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await traffic.stop();
    second.kill('SIGTERM');

    const v = /two_tower (v\d{4}) published \(rollout: serving/.exec(retrain.lastDetail ?? '')?.[1];
    expect(v, retrain.lastDetail).toBeDefined();
    expect(v).not.toBe('v0002');
    expect(await ann.served()).toEqual({ a: v, b: v });
    expect((await registry.get(MODEL, 'v0001')).state).toBe('retired');
    expect(traffic.failures).toEqual([]);
    expect(traffic.answers.length).toBeGreaterThan(0);
    // One version per answer: the user embedding's and the answering index's agree.
    expect(traffic.answers.filter((a) => !/^v\d{4}$/.test(a.version))).toEqual([]);
    expect(traffic.answers.at(-1)!.version).toBe(v);
  }, 1_200_000);
});

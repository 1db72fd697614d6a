import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsView, openDuck, queryRows } from '../duck.js';
import { simulateWorld } from '../simulator/index.js';
import { readSnapshot } from '../snapshots.js';
import { DAY_MS, worldPaths, type WorldManifest } from '../world.js';
import { cooccurrence } from './jobs/cooccurrence.js';
import { creatorItems } from './jobs/creator_items.js';
import { BATCH_JOBS } from './jobs/index.js';
import { itemMeta } from './jobs/item_meta.js';
import { popularity as popularityJob } from './jobs/popularity.js';
import { eventLogEndMs, runBatchJobs, staleBatchJobs } from './run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-batch-'));
const worldDir = path.join(tmp, 'world');
let world: WorldManifest;
let endMs: number;

beforeAll(async () => {
  world = await simulateWorld({ preset: 'tiny', seed: 3, dir: worldDir, log: () => {} });
  endMs = world.startMs + world.days * DAY_MS;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function query<T>(sql: string, beforeMs?: number, dir = worldDir): Promise<T[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, dir, { beforeMs });
    return await queryRows<T>(duck.conn, sql);
  } finally {
    duck.close();
  }
}

const isSortedDesc = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1] >= x);

describe('runBatchJobs on a tiny world', () => {
  it('publishes every job with sane rows', async () => {
    const results = await runBatchJobs({ worldDir });
    expect(results.map((r) => r.name)).toEqual(BATCH_JOBS.map((j) => j.name));
    const snapshots = worldPaths(worldDir).snapshots;
    for (const r of results) {
      expect(r.rows).toBeGreaterThan(0);
      const snap = await readSnapshot(snapshots, r.name);
      expect(snap.version).toBe(r.version);
      expect(snap.rows).toHaveLength(r.rows);
      expect(snap.manifest).toMatchObject({ name: r.name, asOfMs: endMs, rows: r.rows, job: r.name });
    }
    const itemIds = new Set((await query<{ item_id: string }>('SELECT item_id FROM items')).map((r) => r.item_id));

    const popularity = (await readSnapshot(snapshots, popularityJob)).rows;
    expect(popularity.length).toBeLessThanOrEqual(5000);
    expect(isSortedDesc(popularity.map((r) => r.score))).toBe(true);
    expect(popularity.every((r) => r.score > 0 && itemIds.has(r.item_id))).toBe(true);

    const cooc = (await readSnapshot(snapshots, cooccurrence)).rows;
    const scoreOf = new Map<string, number>();
    for (const row of cooc) {
      expect(row.neighbors.length).toBeGreaterThan(0);
      expect(row.neighbors.length).toBeLessThanOrEqual(50);
      expect(isSortedDesc(row.neighbors.map((n) => n.score))).toBe(true);
      for (const n of row.neighbors) {
        expect(n.item_id).not.toBe(row.item_id);
        expect(n.score).toBeGreaterThan(0);
        expect(n.score).toBeLessThanOrEqual(1);
        scoreOf.set(`${row.item_id} ${n.item_id}`, n.score);
      }
    }
    // Cosine is symmetric: wherever both directions were kept, they agree.
    let checked = 0;
    for (const [pair, score] of scoreOf) {
      const [a, b] = pair.split(' ');
      const back = scoreOf.get(`${b} ${a}`);
      if (back !== undefined) {
        expect(back).toBeCloseTo(score, 12);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);

    const creatorOf = new Map(
      (await query<{ item_id: string; creator_id: string }>('SELECT item_id, creator_id FROM items')).map((r) => [
        r.item_id,
        r.creator_id,
      ]),
    );
    const creators = (await readSnapshot(snapshots, creatorItems)).rows;
    for (const row of creators) {
      expect(row.items.length).toBeGreaterThan(0);
      expect(row.items.length).toBeLessThanOrEqual(100);
      expect(isSortedDesc(row.items.map((i) => i.score))).toBe(true);
      expect(row.items.every((i) => creatorOf.get(i.item_id) === row.creator_id)).toBe(true);
    }

    const meta = (await readSnapshot(snapshots, itemMeta)).rows;
    expect(meta).toHaveLength(world.counts.items);
    expect(Object.keys(meta[0]).sort()).toEqual(['created_ms', 'creator_id', 'item_id', 'locale', 'topic']);
    expect(typeof meta[0].created_ms).toBe('number');
  });

  it('uses only events and items from before asOfMs', async () => {
    const asOfMs = world.startMs + 3 * DAY_MS;
    const snapshotsDir = path.join(tmp, 'asof');
    const results = await runBatchJobs({ worldDir, snapshotsDir, asOfMs, only: ['popularity', 'item_meta'] });
    expect(results.map((r) => r.name)).toEqual(['popularity', 'item_meta']);

    const popularity = (await readSnapshot(snapshotsDir, popularityJob)).rows;
    expect(popularity[0]).toBeDefined();
    const engagedBefore = await query<{ item_id: string }>(
      `SELECT DISTINCT item_id FROM events WHERE action IN ('click', 'save') AND time_ms < ${asOfMs}`,
    );
    expect(new Set(popularity.map((r) => r.item_id))).toEqual(new Set(engagedBefore.map((r) => r.item_id)));

    // The top score, recomputed by hand from the raw events: save 3, click 1, half-life 3 days.
    const top = popularity[0];
    const events = await query<{ action: string; time_ms: number }>(
      `SELECT action, time_ms FROM events WHERE item_id = '${top.item_id}' AND action IN ('click', 'save') AND time_ms < ${asOfMs}`,
    );
    const expected = events.reduce(
      (s, e) => s + (e.action === 'save' ? 3 : 1) * Math.pow(0.5, (asOfMs - e.time_ms) / (3 * DAY_MS)),
      0,
    );
    expect(top.score).toBeCloseTo(expected, 9);

    const meta = await readSnapshot(snapshotsDir, itemMeta);
    expect(meta.manifest.asOfMs).toBe(asOfMs);
    expect(meta.rows.every((r) => r.created_ms < asOfMs)).toBe(true);
    expect(meta.rows.length).toBeLessThan(world.counts.items);
  });

  it('includes the live JSONL events the Events service appended', async () => {
    const copy = path.join(tmp, 'live-world');
    fs.cpSync(worldDir, copy, { recursive: true, filter: (src) => !src.includes(`${path.sep}snapshots`) });
    // Two items nobody engaged with get saves from three users, live, on the last day.
    const cold = await query<{ item_id: string }>(
      `SELECT item_id FROM items WHERE item_id NOT IN (SELECT item_id FROM events WHERE action IN ('click', 'save'))
       AND created_ms < ${endMs - DAY_MS} ORDER BY item_id LIMIT 2`,
      undefined,
      copy,
    );
    expect(cold).toHaveLength(2);
    const [a, b] = cold.map((r) => r.item_id);
    const t = endMs - 2 * 3_600_000;
    const lines = ['u1', 'u2', 'u3'].flatMap((user, n) => [
      {
        user_id: user,
        item_id: a,
        action: 'save',
        time_ms: t + n * 60_000,
        board_id: null,
        source: 'fresh',
        request_id: `r${n}`,
        seq: 2 * n,
      },
      {
        user_id: user,
        item_id: b,
        action: 'click',
        time_ms: t + n * 60_000 + 5_000,
        board_id: null,
        source: 'fresh',
        request_id: `r${n}`,
        seq: 2 * n + 1,
      },
    ]);
    const liveDir = path.join(worldPaths(copy).live, `day=${new Date(t).toISOString().slice(0, 10)}`);
    fs.mkdirSync(liveDir, { recursive: true });
    fs.writeFileSync(path.join(liveDir, 'events-test.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

    await runBatchJobs({ worldDir: copy, only: ['popularity', 'cooccurrence'] });
    const snapshots = worldPaths(copy).snapshots;
    const popularity = (await readSnapshot(snapshots, popularityJob)).rows;
    const liveSave = popularity.find((r) => r.item_id === a);
    const expected = [0, 1, 2].reduce((s, n) => s + 3 * Math.pow(0.5, (endMs - (t + n * 60_000)) / (3 * DAY_MS)), 0);
    expect(liveSave?.score).toBeCloseTo(expected, 9);
    const cooc = (await readSnapshot(snapshots, cooccurrence)).rows;
    expect(cooc.find((r) => r.item_id === a)?.neighbors).toEqual([{ item_id: b, score: 1 }]);
  });

  it('knows when the snapshots already cover the log, and when a live event makes them stale', async () => {
    const copy = path.join(tmp, 'stale-world');
    fs.cpSync(worldDir, copy, { recursive: true });
    const snapshots = worldPaths(copy).snapshots;
    await runBatchJobs({ worldDir: copy, only: ['popularity'] });
    // Only popularity was rebuilt up to the log's end by this call; the rest were built by the first test, also to the end.
    expect(await staleBatchJobs(snapshots, await eventLogEndMs(copy))).toEqual([]);
    const t = endMs + 60_000;
    const liveDir = path.join(worldPaths(copy).live, `day=${new Date(t).toISOString().slice(0, 10)}`);
    fs.mkdirSync(liveDir, { recursive: true });
    const line = {
      user_id: 'u1',
      item_id: 'i1',
      action: 'click',
      time_ms: t,
      board_id: null,
      source: 'x',
      request_id: 'r',
      seq: 0,
    };
    fs.writeFileSync(path.join(liveDir, 'events-test.jsonl'), JSON.stringify(line) + '\n');
    expect(await staleBatchJobs(snapshots, await eventLogEndMs(copy))).toEqual(BATCH_JOBS.map((j) => j.name));
  });

  it('names unknown jobs', async () => {
    await expect(runBatchJobs({ worldDir, only: ['popularity', 'nope'] })).rejects.toThrow(
      /unknown batch job\(s\): nope/,
    );
  });

  it('documents every job in the README', () => {
    const readme = fs.readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    for (const job of BATCH_JOBS) expect(readme).toContain(`\`${job.name}\``);
  });
});

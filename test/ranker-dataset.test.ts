// The ranker's training data on the tiny world: one example per impression with its outcome, a
// context made only of what happened before the request, popularity as of the day's start, a
// time split with vocabularies from the training days only.
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsView, openDuck, queryRows } from '../libs/data/duck.js';
import { DAY_MS, readWorldManifest } from '../libs/data/world.js';
import { buildRankerDataset, type RankerDataset, type ValRequests } from '../libs/ranking/dataset.js';
import { readNpy } from '../libs/training/npy.js';
import { testWorld } from './fixtures/world.js';

describe('ranker training data', () => {
  let world: string;
  let ds: RankerDataset;
  let val: ValRequests;

  beforeAll(async () => {
    world = await testWorld();
    ds = await buildRankerDataset({ worldDir: world, outDir: mkdtempSync(join(tmpdir(), 'feedloom-ranker-ds-')) });
    val = JSON.parse(await readFile(join(ds.dir, 'val_requests.json'), 'utf8'));
  }, 120_000);

  it('has one example per impression with its outcome, split by time at the last day', async () => {
    const manifest = await readWorldManifest(world);
    const lastDay = manifest.startMs + (manifest.days - 1) * DAY_MS;
    expect(ds.manifest.trainEndMs).toBe(lastDay);
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const [counts] = await queryRows<{ train: number; val: number; clicks: number; saves: number; hides: number }>(
        duck.conn,
        `SELECT count(*) FILTER (WHERE action = 'impression' AND time_ms < ${lastDay}) AS train,
                count(*) FILTER (WHERE action = 'impression' AND time_ms >= ${lastDay}) AS val,
                count(*) FILTER (WHERE action = 'click' AND time_ms < ${lastDay}) AS clicks,
                count(*) FILTER (WHERE action = 'save' AND time_ms < ${lastDay}) AS saves,
                count(*) FILTER (WHERE action = 'hide' AND time_ms < ${lastDay}) AS hides
         FROM events`,
      );
      expect(ds.manifest.counts.trainExamples).toBe(counts.train);
      expect(ds.manifest.counts.valExamples).toBe(counts.val);
      // Every click, save and hide is the outcome of the impression it followed.
      expect(ds.manifest.counts.positives).toEqual({ click: counts.clicks, save: counts.saves, hide: counts.hides });
    } finally {
      duck.close();
    }
    const labels = (await readNpy(join(ds.dir, 'train_ex_labels.npy'))).data as Uint8Array;
    expect(labels.length).toBe(3 * ds.manifest.counts.trainExamples);
  });

  it('builds each context from actions before the request only', () => {
    for (const s of val.sessions) {
      const actions = val.users[s.user].actions;
      for (let i = 0; i < s.histCount; i++) expect(actions[i][2]).toBeLessThan(s.timeMs);
      if (s.histCount < actions.length) expect(actions[s.histCount][2]).toBeGreaterThanOrEqual(s.timeMs);
    }
    // Training contexts: the last action of every history is before the request.
    return Promise.all(
      ['train_ctx_hist_end', 'train_ctx_hist_start', 'train_ctx_time_ms', 'act_time_ms'].map((n) =>
        readNpy(join(ds.dir, `${n}.npy`)),
      ),
    ).then(([end, start, time, actTime]) => {
      for (let c = 0; c < end.data.length; c++) {
        const e = Number(end.data[c]);
        if (e > Number(start.data[c])) expect(Number(actTime.data[e - 1])).toBeLessThan(Number(time.data[c]));
      }
    });
  });

  it('gives candidates the popularity of the day start, from events before it', async () => {
    const [day, pop] = Object.entries(val.popularity)[0];
    const [item, score] = Object.entries(pop).sort((a, b) => b[1] - a[1])[0];
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world, { beforeMs: Number(day) });
      const [row] = await queryRows<{ s: number }>(
        duck.conn,
        `SELECT SUM(CASE action WHEN 'save' THEN 3.0 WHEN 'click' THEN 1.0 ELSE 0 END * pow(0.5, (${day} - time_ms) / ${3 * DAY_MS}.0)) AS s
         FROM events WHERE item_id = '${item}' AND action IN ('click', 'save')`,
      );
      expect(score).toBeCloseTo(row.s, 6);
    } finally {
      duck.close();
    }
  });

  it('takes vocabularies from the training days only', async () => {
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const onlyLastDay = await queryRows<{ item_id: string }>(
        duck.conn,
        `SELECT item_id FROM events GROUP BY item_id HAVING min(time_ms) >= ${ds.manifest.trainEndMs} LIMIT 20`,
      );
      expect(onlyLastDay.length).toBeGreaterThan(0);
      const vocab = new Set(ds.manifest.encoding.vocab.items);
      for (const r of onlyLastDay) expect(vocab.has(r.item_id)).toBe(false);
      expect(ds.manifest.encoding.vocab.sources.slice(2)).toEqual([
        'followed_board',
        'followed_creator',
        'fresh',
        'popular',
        'random',
        'topic',
      ]);
    } finally {
      duck.close();
    }
  });
});

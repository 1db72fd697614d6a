import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsView, openDuck, queryRows, type Duck } from '../duck.js';
import { DAY_MS, DEFAULT_START_MS, readWorldManifest } from '../world.js';
import { DIM, continueWorld, oracleTopK, readTruth, simulateWorld } from './index.js';
import { currentInterest } from './model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-sim-'));
const worldA = path.join(tmp, 'a');
const quiet = () => {};
let duck: Duck;

beforeAll(async () => {
  await simulateWorld({ preset: 'tiny', seed: 5, dir: worldA, log: quiet });
  duck = await openDuck();
  await eventsView(duck.conn, worldA);
});
afterAll(() => {
  duck?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const rows = <T>(sql: string) => queryRows<T>(duck.conn, sql);

/** Hash of every data file in a world (the manifest holds a creation time, so it is left out). */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name !== 'world.json')
        out[path.relative(dir, p)] = createHash('sha1').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('simulateWorld', () => {
  it('writes the world layout with the documented counts and flags', async () => {
    const m = await readWorldManifest(worldA);
    expect(m).toMatchObject({
      source: 'simulator',
      preset: 'tiny',
      seed: 5,
      startMs: DEFAULT_START_MS,
      days: 8,
      hasTruth: true,
    });
    expect(m.features).toEqual({ creators: true, boards: true, topics: true, locales: true });
    expect(m.counts.users).toBeGreaterThan(180);
    expect(m.counts.items).toBeGreaterThan(900);
    const [c] = await rows<Record<string, number>>(
      `SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM creators) AS creators,
              (SELECT count(*) FROM boards) AS boards, (SELECT count(*) FROM events) AS events,
              (SELECT count(DISTINCT topic) FROM items) AS topics, (SELECT count(*) FROM follows) AS follows,
              (SELECT count(*) FROM board_items) AS board_items`,
    );
    expect(c).toMatchObject({
      users: m.counts.users,
      items: m.counts.items,
      creators: m.counts.creators,
      boards: m.counts.boards,
      events: m.counts.events,
      topics: 8,
    });
    expect(c.follows).toBeGreaterThan(m.counts.users);
    expect(c.board_items).toBeGreaterThan(m.counts.boards);
    const days = fs.readdirSync(path.join(worldA, 'events')).sort();
    expect(days).toEqual(Array.from({ length: 8 }, (_, d) => `day=2026-01-0${d + 1}`));
    const [ids] = await rows<Record<string, string>>(
      `SELECT (SELECT min(user_id) FROM users) AS u, (SELECT min(topic) FROM items) AS t, (SELECT min(session_id) FROM events) AS s`,
    );
    expect(ids.u).toMatch(/^u\d+$/);
    expect(ids.t).toBe('t00');
    expect(ids.s).toMatch(/^s\d+-\d+-\d+$/);
  });

  it('is byte-identical for the same seed, different for another, and continuing equals simulating longer', async () => {
    const again = path.join(tmp, 'again');
    await simulateWorld({ preset: 'tiny', seed: 5, dir: again, log: quiet });
    const a = fingerprint(worldA);
    expect(Object.keys(a).length).toBeGreaterThan(20);
    expect(fingerprint(again)).toEqual(a);

    const other = path.join(tmp, 'other');
    await simulateWorld({ preset: 'tiny', seed: 6, dir: other, log: quiet, days: 1 });
    expect(fingerprint(other)['events/day=2026-01-01/part-0.parquet']).not.toBe(
      a['events/day=2026-01-01/part-0.parquet'],
    );

    const continued = path.join(tmp, 'continued');
    await simulateWorld({ preset: 'tiny', seed: 5, dir: continued, log: quiet, days: 5 });
    const before = fingerprint(continued);
    const manifest = await continueWorld(continued, 3, { log: quiet });
    expect(manifest.days).toBe(8);
    const after = fingerprint(continued);
    expect(after).toEqual(a);
    expect(after['events/day=2026-01-05/part-0.parquet']).toBe(before['events/day=2026-01-05/part-0.parquet']);
  });

  it('has the shape of a feed log: impressions with positions, fewer clicks, fewer saves, few hides', async () => {
    const [r] = await rows<Record<string, number>>(
      `SELECT count(*) FILTER (action = 'impression') AS impressions, count(*) FILTER (action = 'click') AS clicks,
              count(*) FILTER (action = 'save') AS saves, count(*) FILTER (action = 'hide') AS hides,
              count(*) FILTER (position IS NULL OR source IS NULL) AS unplaced,
              max(position) AS max_position
       FROM events`,
    );
    expect(r.unplaced).toBe(0);
    expect(r.max_position).toBeLessThanOrEqual(29);
    expect(r.clicks / r.impressions).toBeGreaterThan(0.05);
    expect(r.clicks / r.impressions).toBeLessThan(0.4);
    expect(r.saves).toBeLessThan(r.clicks);
    expect(r.saves).toBeGreaterThan(0);
    expect(r.hides).toBeGreaterThan(0);
    const sessions = await rows<{ n: number }>(
      `SELECT count(*) FILTER (action = 'impression') AS n FROM events GROUP BY session_id`,
    );
    expect(Math.min(...sessions.map((s) => s.n))).toBeGreaterThanOrEqual(5);
    expect(Math.max(...sessions.map((s) => s.n))).toBeLessThanOrEqual(30);
    // Position bias: the top slot is clicked more often than slot 15 and beyond.
    const [ctr] = await rows<{ top: number; deep: number }>(
      `SELECT avg((action = 'click')::INT) FILTER (position = 0 AND action IN ('impression', 'click')) AS top,
              avg((action = 'click')::INT) FILTER (position >= 15 AND action IN ('impression', 'click')) AS deep FROM events`,
    );
    expect(ctr.top).toBeGreaterThan(ctr.deep * 1.5);
  });

  it('has popularity skew: a tenth of the items take a large share of the engagement', async () => {
    const [r] = await rows<{ top_share: number }>(
      `WITH per_item AS (SELECT i.item_id, count(e.item_id) AS n
                         FROM items i LEFT JOIN events e ON e.item_id = i.item_id AND e.action IN ('click', 'save') GROUP BY i.item_id),
            ranked AS (SELECT n, row_number() OVER (ORDER BY n DESC) AS rank, count(*) OVER () AS total FROM per_item)
       SELECT sum(n) FILTER (rank <= total / 10) / sum(n) AS top_share FROM ranked`,
    );
    expect(r.top_share).toBeGreaterThan(0.35); // 0.1 if engagement were spread evenly
  });

  it('puts every save on one of the saver’s own boards, and on the board list', async () => {
    const [r] = await rows<Record<string, number>>(
      `SELECT count(*) AS saves, count(*) FILTER (b.owner_user_id = e.user_id) AS own,
              count(*) FILTER (bi.board_id IS NOT NULL) AS listed
       FROM events e LEFT JOIN boards b ON b.board_id = e.board_id
       LEFT JOIN board_items bi ON bi.board_id = e.board_id AND bi.item_id = e.item_id AND bi.added_ms <= e.time_ms
       WHERE e.action = 'save'`,
    );
    expect(r.saves).toBeGreaterThan(50);
    expect(r.own).toBe(r.saves);
    expect(r.listed).toBe(r.saves);
    const [other] = await rows<{ n: number }>(
      `SELECT count(*) AS n FROM events WHERE action <> 'save' AND board_id IS NOT NULL`,
    );
    expect(other.n).toBe(0);
  });

  it('creates fresh items every day, which are shown only after they exist', async () => {
    const perDay = await rows<{ day: number; created: number }>(
      `SELECT (created_ms - ${DEFAULT_START_MS}) // ${DAY_MS} AS day, count(*) AS created FROM items
       WHERE created_ms >= ${DEFAULT_START_MS} GROUP BY day ORDER BY day`,
    );
    expect(perDay.map((d) => d.day)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const [shown] = await rows<{ fresh_shown: number; too_early: number }>(
      `SELECT count(DISTINCT e.item_id) FILTER (i.created_ms >= ${DEFAULT_START_MS}) AS fresh_shown,
              count(*) FILTER (e.time_ms < i.created_ms) AS too_early
       FROM events e JOIN items i USING (item_id)`,
    );
    expect(shown.too_early).toBe(0);
    expect(shown.fresh_shown).toBeGreaterThan(50);
    const [late] = await rows<{ n: number }>(
      `SELECT count(*) AS n FROM events e JOIN items i USING (item_id)
       WHERE e.action = 'click' AND i.created_ms >= ${DEFAULT_START_MS + 3 * DAY_MS}`,
    );
    expect(late.n).toBeGreaterThan(0);
  });

  it('follows and boards track interests: users follow creators in their declared topics more than by chance', async () => {
    const [r] = await rows<{ matched: number; total: number }>(
      `SELECT count(*) FILTER (list_contains(u.topics, c.topic)) AS matched, count(*) AS total
       FROM follows f JOIN users u USING (user_id) JOIN creators c ON c.creator_id = f.target_id
       WHERE f.target_type = 'creator'`,
    );
    expect(r.matched / r.total).toBeGreaterThan(0.4); // 8 topics, ~1.5 declared each: chance is ~0.2
  });
});

describe('a world with novelty (new items that matter)', () => {
  const novelty = { boost: 1.5, halfLifeDays: 1 };
  /** Clicks per impression of items in their first two days. */
  const youngClickRate = async (dir: string) => {
    const d = await openDuck();
    try {
      await eventsView(d.conn, dir);
      const [r] = await queryRows<{ imps: number; clicks: number }>(
        d.conn,
        `SELECT count(*) FILTER (action = 'impression') AS imps, count(*) FILTER (action = 'click') AS clicks
         FROM events e JOIN items i USING (item_id) WHERE e.time_ms - i.created_ms < ${2 * DAY_MS}`,
      );
      return Number(r.clicks) / Number(r.imps);
    } finally {
      d.close();
    }
  };

  it('engages more with new items, keeps the novelty in its truth, and continues into the same world', async () => {
    const dir = path.join(tmp, 'novelty');
    await simulateWorld({ preset: 'tiny', seed: 5, dir, log: quiet, novelty });
    // The same seed without novelty: new items are clicked more often when shown (tiny, seed 5: 12% → 19%).
    expect(await youngClickRate(dir)).toBeGreaterThan((await youngClickRate(worldA)) * 1.3);
    expect((await readTruth(dir)).meta.novelty).toEqual(novelty);
    expect((await readTruth(worldA)).meta.novelty).toBeUndefined();

    const continued = path.join(tmp, 'novelty-continued');
    await simulateWorld({ preset: 'tiny', seed: 5, dir: continued, log: quiet, days: 5, novelty });
    await continueWorld(continued, 3, { log: quiet });
    expect(fingerprint(continued)).toEqual(fingerprint(dir));
  });

  it('refuses a novelty out of range, naming it', async () => {
    await expect(
      simulateWorld({
        preset: 'tiny',
        seed: 5,
        dir: path.join(tmp, 'bad'),
        log: quiet,
        novelty: { boost: 9, halfLifeDays: 1 },
      }),
    ).rejects.toThrow(/novelty boost must be a number from 0 to 5/);
  });
});

describe('ground truth and the oracle', () => {
  it('keeps a drifting short-term interest per user and day', async () => {
    const truth = await readTruth(worldA);
    const { users, days } = truth.meta;
    expect(days).toBe(8);
    const first = new Float32Array(DIM);
    const last = new Float32Array(DIM);
    let changed = 0;
    for (let u = 0; u < 150; u++) {
      currentInterest(truth.userVec, truth.userDrift.subarray(0, users * DIM), u * DIM, first);
      currentInterest(truth.userVec, truth.userDrift.subarray((days - 1) * users * DIM), u * DIM, last);
      let cos = 0;
      for (let k = 0; k < DIM; k++) cos += first[k] * last[k];
      if (cos < 0.98) changed++;
    }
    expect(changed).toBeGreaterThan(100);
  });

  it('ranks existing items by true engagement, which the logged clicks confirm', async () => {
    const day = 6;
    const dayStart = DEFAULT_START_MS + day * DAY_MS;
    const active = (
      await rows<{ user_id: string }>(
        `SELECT DISTINCT user_id FROM events WHERE time_ms >= ${dayStart} AND time_ms < ${dayStart + DAY_MS} ORDER BY user_id`,
      )
    ).map((r) => r.user_id);
    expect(active.length).toBeGreaterThan(40);
    const oracle = await oracleTopK(worldA, active, day, 100);
    expect([...oracle.keys()]).toEqual(active);
    for (const items of oracle.values()) {
      expect(items).toHaveLength(100);
      expect(new Set(items).size).toBe(100);
    }
    // Only items that existed when the day began.
    const created = new Map(
      (await rows<{ item_id: string; created_ms: number }>('SELECT item_id, created_ms FROM items')).map((r) => [
        r.item_id,
        r.created_ms,
      ]),
    );
    for (const items of oracle.values()) for (const item of items) expect(created.get(item)!).toBeLessThan(dayStart);

    // Impressions of the users' oracle items that day were clicked far more often than the rest.
    await duck.conn.run('CREATE OR REPLACE TEMP TABLE oracle (user_id VARCHAR, item_id VARCHAR)');
    const values = [...oracle].flatMap(([u, items]) => items.map((i) => `('${u}', '${i}')`));
    await duck.conn.run(`INSERT INTO oracle VALUES ${values.join(', ')}`);
    const ctr = await rows<{ in_oracle: boolean; ctr: number }>(
      `SELECT o.item_id IS NOT NULL AS in_oracle,
              count(*) FILTER (e.action = 'click') / count(*) FILTER (e.action = 'impression') AS ctr
       FROM events e LEFT JOIN oracle o USING (user_id, item_id)
       WHERE e.time_ms >= ${dayStart} AND e.time_ms < ${dayStart + DAY_MS} GROUP BY ALL`,
    );
    const by = Object.fromEntries(ctr.map((r) => [String(r.in_oracle), r.ctr]));
    expect(by.true).toBeGreaterThan(by.false * 2);

    // Drift moves the oracle: day 0 and day 6 lists differ.
    const early = await oracleTopK(worldA, active.slice(0, 30), 0, 20);
    const late = await oracleTopK(worldA, active.slice(0, 30), day, 20);
    const overlap = active.slice(0, 30).map((u) => late.get(u)!.filter((i) => early.get(u)!.includes(i)).length / 20);
    expect(overlap.reduce((a, b) => a + b, 0) / overlap.length).toBeLessThan(0.9);
  });

  it('refuses days and users the world does not have', async () => {
    await expect(oracleTopK(worldA, ['u1'], 8, 10)).rejects.toThrow(/outside the world's days 0..7/);
    await expect(oracleTopK(worldA, ['u999999'], 0, 10)).rejects.toThrow(/unknown user 'u999999'/);
    await expect(oracleTopK(tmp, ['u1'], 0, 10)).rejects.toThrow(/no simulator truth/);
  });
});

// trending: an item whose last 24 h are far above its own baseline outranks a steady favourite,
// even when the favourite still collects more engagement in absolute terms.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { trending } from '../../../libs/data/batch/jobs/trending.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS } from '../../../libs/data/world.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

interface Velocity {
  item_id: string;
  recent: number;
  /** Average daily weighted engagement over the 7 days before the last 24 h. */
  daily: number;
  total: number;
}

describe('generator trending', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let velocity: Velocity[];

  beforeAll(async () => {
    const { world, endMs } = fixture;
    // Straight from the log, independently of the batch job: weighted engagement now vs before.
    velocity = await worldRows<Velocity>(
      world,
      `SELECT item_id,
         coalesce(sum(w) FILTER (WHERE time_ms >= ${endMs - DAY_MS}), 0) AS recent,
         coalesce(sum(w) FILTER (WHERE time_ms < ${endMs - DAY_MS} AND time_ms >= ${endMs - 8 * DAY_MS}), 0) / 7.0 AS daily,
         sum(w) AS total
       FROM (SELECT item_id, time_ms, CASE action WHEN 'save' THEN 3 ELSE 1 END AS w FROM events WHERE action IN ('click', 'save'))
       JOIN items USING (item_id)
       WHERE items.created_ms < ${endMs - 8 * DAY_MS}
       GROUP BY item_id`,
    );
  });

  const nobody = () => UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs });

  it('ranks a recently surging item above a steadily popular one that still gets more engagement', async () => {
    // Steady: the most engaged item whose last day is within ±40% of its usual day.
    const steady = velocity
      .filter((v) => v.daily >= 5 && Math.abs(v.recent - v.daily) <= 0.4 * v.daily)
      .sort((a, b) => b.total - a.total)[0];
    // Surging: at least 4x its usual day, yet fewer engagements in the last day than the steady one.
    const surging = velocity
      .filter((v) => v.recent >= 6 && v.recent >= 4 * v.daily && v.recent < steady.recent)
      .sort((a, b) => b.recent - a.recent)[0];
    expect(steady, 'the tiny world has a steady favourite').toBeDefined();
    expect(surging, 'the tiny world has a surging item').toBeDefined();

    const { candidates } = await fixture.served.generate(nobody(), 2000);
    const rank = (id: string) => {
      const at = candidates.findIndex((c) => c.itemId === id);
      return at < 0 ? Infinity : at;
    };
    expect(rank(surging.item_id)).toBeLessThan(rank(steady.item_id));
    expect(rank(surging.item_id)).toBeLessThan(20);

    // The snapshot agrees with the log about the surging item's last 24 h, and expects far less.
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), trending);
    const row = snapshot.rows.find((r) => r.item_id === surging.item_id)!;
    expect(row.recent).toBe(surging.recent);
    expect(row.expected).toBeLessThan(row.recent / 2);
    const steadyRow = snapshot.rows.find((r) => r.item_id === steady.item_id);
    if (steadyRow) expect(steadyRow.score).toBeLessThan(row.score);
  });

  it('serves the snapshot in order, every item moving faster than its baseline', async () => {
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), trending);
    expect(snapshot.rows.length).toBeGreaterThan(0);
    expect(snapshot.rows.every((r) => r.recent > r.expected && r.score > 0)).toBe(true);
    const { candidates } = await fixture.served.generate(nobody(), 50);
    expect(candidates.map((c) => c.itemId)).toEqual(snapshot.rows.slice(0, 50).map((r) => r.item_id));
  });

  it('leaves out what the user engaged with, best first, within the quota', async () => {
    for (const { user, candidates } of await fixture.answers(30)) {
      expectUnseenBestFirst(user, candidates, 30);
    }
  });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('trending');
    expect(about.requestCost).not.toBe('');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'trending', rows: expect.any(Number) })]);
    expect(about.snapshots[0].rows).toBeGreaterThan(0);
  });
});

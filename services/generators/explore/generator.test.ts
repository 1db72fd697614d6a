// explore: under-exposed items (impressions below the bound) above the quality floor (smoothed
// engagement rate), checked against counts taken straight from the event log.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

interface ItemStats {
  item_id: string;
  topic: string;
  creator_id: string;
  impressions: number;
  engagements: number;
}

describe('generator explore', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let stats: Map<string, ItemStats & { quality: number }>;

  beforeAll(async () => {
    const rows = await worldRows<ItemStats>(
      fixture.world,
      `SELECT i.item_id, i.topic, i.creator_id,
         count(e.item_id) FILTER (WHERE e.action = 'impression') AS impressions,
         count(e.item_id) FILTER (WHERE e.action IN ('click', 'save')) AS engagements
       FROM items i LEFT JOIN events e ON e.item_id = i.item_id GROUP BY ALL`,
    );
    // The quality the floor is about, recomputed here: (clicks + saves) per impression, shrunk to the
    // creator's rate with 20 pseudo-impressions, the creator's shrunk to the global one with 200.
    const sum = (xs: ItemStats[], f: (r: ItemStats) => number) => xs.reduce((s, r) => s + f(r), 0);
    const global = (sum(rows, (r) => r.engagements) + 1) / (sum(rows, (r) => r.impressions) + 10);
    const byCreator = new Map<string, ItemStats[]>();
    for (const r of rows) byCreator.set(r.creator_id, [...(byCreator.get(r.creator_id) ?? []), r]);
    const creatorRate = new Map(
      [...byCreator].map(([c, xs]) => [
        c,
        (sum(xs, (r) => r.engagements) + 200 * global) / (sum(xs, (r) => r.impressions) + 200),
      ]),
    );
    stats = new Map(
      rows.map((r) => [
        r.item_id,
        { ...r, quality: (r.engagements + 20 * creatorRate.get(r.creator_id)!) / (r.impressions + 20) / global },
      ]),
    );
  });

  it('proposes only items shown fewer than 10 times whose smoothed engagement rate is at least average', async () => {
    const { candidates } = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs }),
      1000,
    );
    expect(candidates.length).toBeGreaterThan(20);
    for (const c of candidates) {
      expect(stats.get(c.itemId)!.impressions).toBeLessThan(10);
      expect(stats.get(c.itemId)!.quality).toBeGreaterThanOrEqual(1 - 1e-9);
    }
    // Both limits bite: under-exposed weak items and well-exposed good ones stay out, and all the rest is in.
    const all = [...stats.values()];
    const proposed = new Set(candidates.map((c) => c.itemId));
    expect(all.some((s) => s.impressions < 10 && s.quality < 1)).toBe(true);
    expect(all.some((s) => s.impressions >= 10 && s.quality >= 1.2)).toBe(true);
    expect(all.filter((s) => s.impressions < 10 && s.quality >= 1 + 1e-9).every((s) => proposed.has(s.item_id))).toBe(
      true,
    );
  });

  it("puts the user's topics first and leaves out what they engaged with", async () => {
    for (const { user, candidates } of await fixture.answers(40)) {
      expectUnseenBestFirst(user, candidates, 40);
      if (user.topics.length > 0) expect(user.topics).toContain(stats.get(candidates[0].itemId)!.topic);
    }
  });

  it('honours its exposure bound and quality floor settings', async () => {
    const strict = await startGeneratorForTest(generator, snapshotsOf(fixture.world), {
      maxImpressions: 4,
      minQuality: 1.1,
    });
    try {
      const { candidates } = await strict.generate(
        UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs }),
        1000,
      );
      expect(candidates.length).toBeGreaterThan(0);
      expect(
        candidates.every((c) => stats.get(c.itemId)!.impressions < 4 && stats.get(c.itemId)!.quality >= 1.1 - 1e-9),
      ).toBe(true);
    } finally {
      await strict.stop();
    }
  });
});

// fresh: only items created inside the window before the request time, above the quality bar,
// in the user's topics (all topics for a user without any).
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { freshItems } from '../../../libs/data/batch/jobs/fresh_items.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator, { DEFAULT_MIN_QUALITY } from './generator.js';

describe('generator fresh', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  /** Catalog facts, straight from the world's items table. */
  let catalog: Map<string, { topic: string; created_ms: number }>;
  let quality: Map<string, number>;

  beforeAll(async () => {
    const items = await worldRows<{ item_id: string; topic: string; created_ms: number }>(
      fixture.world,
      'SELECT item_id, topic, created_ms FROM items',
    );
    catalog = new Map(items.map((r) => [r.item_id, r]));
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), freshItems);
    quality = new Map(snapshot.rows.map((r) => [r.item_id, r.quality]));
  });

  it("returns only items created within 2 days before the request, above the bar, in the user's topics", async () => {
    let answered = 0;
    for (const { user, candidates } of await fixture.answers(100)) {
      expect(user.requestTimeMs).toBeGreaterThanOrEqual(fixture.endMs);
      if (user.topics.length > 0 && candidates.length > 0) answered++;
      for (const c of candidates) {
        const item = catalog.get(c.itemId)!;
        expect(item.created_ms).toBeGreaterThanOrEqual(user.requestTimeMs - 2 * DAY_MS);
        expect(item.created_ms).toBeLessThanOrEqual(user.requestTimeMs);
        expect(user.topics).toContain(item.topic);
        expect(quality.get(c.itemId)).toBeGreaterThanOrEqual(DEFAULT_MIN_QUALITY);
      }
      expectUnseenBestFirst(user, candidates, 100, { allowEmpty: true });
    }
    expect(answered).toBeGreaterThan(0);
  });

  it('leaves out new items below the quality bar', async () => {
    const user = UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs });
    const { candidates } = await fixture.served.generate(user, 1000);
    const inWindow = [...catalog]
      .filter(([, r]) => r.created_ms >= fixture.endMs - 2 * DAY_MS && r.created_ms < fixture.endMs)
      .map(([id]) => id);
    const below = inWindow.filter((id) => (quality.get(id) ?? 0) < DEFAULT_MIN_QUALITY);
    const above = inWindow.filter((id) => (quality.get(id) ?? 0) >= DEFAULT_MIN_QUALITY);
    expect(below.length).toBeGreaterThan(0);
    expect(above.length).toBeGreaterThan(0);
    // A user without topics gets every topic: exactly the new items above the bar.
    expect(candidates.map((c) => c.itemId).sort()).toEqual(above.sort());
  });

  it("measures the window back from the request's clock, and honours windowDays", async () => {
    const earlier = fixture.endMs - 3 * DAY_MS;
    const { candidates } = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: earlier }),
      1000,
    );
    expect(candidates.length).toBeGreaterThan(0);
    for (const c of candidates) {
      expect(catalog.get(c.itemId)!.created_ms).toBeGreaterThanOrEqual(earlier - 2 * DAY_MS);
      expect(catalog.get(c.itemId)!.created_ms).toBeLessThanOrEqual(earlier);
    }

    const narrow = await startGeneratorForTest(generator, snapshotsOf(fixture.world), { windowDays: 0.5 });
    try {
      const { candidates: recent } = await narrow.generate(
        UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs }),
        1000,
      );
      expect(recent.length).toBeGreaterThan(0);
      expect(recent.every((c) => catalog.get(c.itemId)!.created_ms >= fixture.endMs - DAY_MS / 2)).toBe(true);
    } finally {
      await narrow.stop();
    }
  });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('fresh');
    expect(about.snapshots.every((s) => s.version !== '' && s.rows > 0)).toBe(true);
  });
});

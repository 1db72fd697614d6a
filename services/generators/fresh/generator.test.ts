// fresh: only items created inside the window before the request time, above the quality bar,
// in the user's topics (all topics for a user without any).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import generator, { DEFAULT_MIN_QUALITY } from './generator.js';

describe('generator fresh', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let world: string;
  let endMs: number;
  /** Catalog facts, straight from the world's items table. */
  let catalog: Map<string, { topic: string; created_ms: number }>;
  let quality: Map<string, number>;

  beforeAll(async () => {
    world = await testWorld();
    const manifest = await readWorldManifest(world);
    endMs = manifest.startMs + manifest.days * DAY_MS;
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 5);
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const items = await queryRows<{ item_id: string; topic: string; created_ms: number }>(duck.conn, 'SELECT item_id, topic, created_ms FROM items');
      catalog = new Map(items.map((r) => [r.item_id, r]));
    } finally {
      duck.close();
    }
    const snapshot = await readSnapshot<{ item_id: string; quality: number }>(snapshotsOf(world), 'fresh_items');
    quality = new Map(snapshot.rows.map((r) => [r.item_id, r.quality]));
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it("returns only items created within 2 days before the request, above the bar, in the user's topics", async () => {
    let answered = 0;
    for (const userId of users) {
      const user = await events.context(userId);
      expect(user.requestTimeMs).toBeGreaterThanOrEqual(endMs);
      const { candidates } = await served.generate(user, 100);
      if (user.topics.length > 0 && candidates.length > 0) answered++;
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      for (const c of candidates) {
        const item = catalog.get(c.itemId)!;
        expect(item.created_ms).toBeGreaterThanOrEqual(user.requestTimeMs - 2 * DAY_MS);
        expect(item.created_ms).toBeLessThanOrEqual(user.requestTimeMs);
        expect(user.topics).toContain(item.topic);
        expect(quality.get(c.itemId)).toBeGreaterThanOrEqual(DEFAULT_MIN_QUALITY);
        expect(engaged.has(c.itemId)).toBe(false);
      }
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
    expect(answered).toBeGreaterThan(0);
  });

  it('leaves out new items below the quality bar', async () => {
    const user = UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: endMs });
    const { candidates } = await served.generate(user, 1000);
    const inWindow = [...catalog].filter(([, r]) => r.created_ms >= endMs - 2 * DAY_MS && r.created_ms < endMs).map(([id]) => id);
    const below = inWindow.filter((id) => (quality.get(id) ?? 0) < DEFAULT_MIN_QUALITY);
    const above = inWindow.filter((id) => (quality.get(id) ?? 0) >= DEFAULT_MIN_QUALITY);
    expect(below.length).toBeGreaterThan(0);
    expect(above.length).toBeGreaterThan(0);
    // A user without topics gets every topic: exactly the new items above the bar.
    expect(candidates.map((c) => c.itemId).sort()).toEqual(above.sort());
  });

  it("measures the window back from the request's clock, and honours windowDays", async () => {
    const earlier = endMs - 3 * DAY_MS;
    const { candidates } = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: earlier }), 1000);
    expect(candidates.length).toBeGreaterThan(0);
    for (const c of candidates) {
      expect(catalog.get(c.itemId)!.created_ms).toBeGreaterThanOrEqual(earlier - 2 * DAY_MS);
      expect(catalog.get(c.itemId)!.created_ms).toBeLessThanOrEqual(earlier);
    }

    const narrow = await startGeneratorForTest(generator, snapshotsOf(world), { windowDays: 0.5 });
    try {
      const { candidates: recent } = await narrow.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: endMs }), 1000);
      expect(recent.length).toBeGreaterThan(0);
      expect(recent.every((c) => catalog.get(c.itemId)!.created_ms >= endMs - DAY_MS / 2)).toBe(true);
    } finally {
      await narrow.stop();
    }
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe('fresh');
    expect(about.snapshots.every((s) => s.version !== '' && s.rows > 0)).toBe(true);
  });
});

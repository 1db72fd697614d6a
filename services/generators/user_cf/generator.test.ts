import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import generator from './generator.js';

interface NeighborsRow {
  user_id: string;
  neighbors: { user_id: string; score: number }[];
}
interface RecentItemsRow {
  user_id: string;
  items: { item_id: string; score: number }[];
}

describe('generator user_cf', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let neighbors: Map<string, NeighborsRow['neighbors']>;
  let recent: Map<string, RecentItemsRow['items']>;

  beforeAll(async () => {
    const world = await testWorld();
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 8);
    neighbors = new Map((await readSnapshot<NeighborsRow>(snapshotsOf(world), 'user_neighbors')).rows.map((r) => [r.user_id, r.neighbors]));
    recent = new Map((await readSnapshot<RecentItemsRow>(snapshotsOf(world), 'user_recent_items')).rows.map((r) => [r.user_id, r.items]));
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe('user_cf');
    expect(about.snapshots.map((s) => [s.name, s.rows])).toEqual([
      ['user_neighbors', neighbors.size],
      ['user_recent_items', recent.size],
    ]);
  });

  it('finds neighbours who engaged with the same items', async () => {
    let sharing = 0;
    for (const userId of users) {
      const top = neighbors.get(userId)?.[0];
      expect(top, `${userId} has neighbours`).toBeDefined();
      expect(top!.user_id).not.toBe(userId);
      const mine = engagedItems(await events.context(userId));
      const theirs = engagedItems(await events.context(top!.user_id));
      if ([...theirs].some((i) => mine.has(i))) sharing++;
    }
    expect(sharing).toBe(users.length);
  });

  it("proposes only its neighbours' recent items, the closest neighbours' first, none the user engaged with", async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const mine = neighbors.get(userId)!;
      const itemsOf = (u: string) => new Set((recent.get(u) ?? []).map((i) => i.item_id));
      const allowed = new Set(mine.flatMap((n) => [...itemsOf(n.user_id)]));
      const { candidates } = await served.generate(user, 100);
      expect(candidates.length).toBeGreaterThan(0);
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      const engaged = engagedItems(user);
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      // Each candidate's score is Σ over neighbours of similarity × that neighbour's item score.
      const expected = (itemId: string) =>
        mine.reduce((sum, n) => sum + n.score * ((recent.get(n.user_id) ?? []).find((i) => i.item_id === itemId)?.score ?? 0), 0);
      for (const c of candidates.slice(0, 5)) expect(c.score).toBeCloseTo(expected(c.itemId), 4);
    }
  });

  it('answers nothing, without an error, for a user it has no neighbours for', async () => {
    const response = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }), 20);
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without engagement (empty snapshots)', async () => {
    const data = generator.prepare!({ user_neighbors: [], user_recent_items: [] }, {});
    const user = await events.context(users[0]);
    const result = await generator.generate({ user, quota: 20, requestId: 't' }, { data, settings: {}, signal: new AbortController().signal });
    expect(result).toEqual([]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { userNeighbors, type UserNeighborsRow } from '../../../libs/data/batch/jobs/user_neighbors.js';
import { userRecentItems, type UserRecentItemsRow } from '../../../libs/data/batch/jobs/user_recent_items.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator user_cf', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let neighbors: Map<string, UserNeighborsRow['neighbors']>;
  let recent: Map<string, UserRecentItemsRow['items']>;

  beforeAll(async () => {
    neighbors = new Map(
      (await readSnapshot(snapshotsOf(fixture.world), userNeighbors)).rows.map((r) => [r.user_id, r.neighbors]),
    );
    recent = new Map(
      (await readSnapshot(snapshotsOf(fixture.world), userRecentItems)).rows.map((r) => [r.user_id, r.items]),
    );
  });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('user_cf');
    expect(about.snapshots.map((s) => [s.name, s.rows])).toEqual([
      ['user_neighbors', neighbors.size],
      ['user_recent_items', recent.size],
    ]);
  });

  it('finds neighbours who engaged with the same items', async () => {
    let sharing = 0;
    for (const userId of fixture.users) {
      const top = neighbors.get(userId)?.[0];
      expect(top, `${userId} has neighbours`).toBeDefined();
      expect(top!.user_id).not.toBe(userId);
      const mine = engagedItems(await fixture.events.context(userId));
      const theirs = engagedItems(await fixture.events.context(top!.user_id));
      if ([...theirs].some((i) => mine.has(i))) sharing++;
    }
    expect(sharing).toBe(fixture.users.length);
  });

  it("proposes only its neighbours' recent items, the closest neighbours' first, none the user engaged with", async () => {
    for (const { user, candidates } of await fixture.answers(100)) {
      const mine = neighbors.get(user.userId)!;
      const itemsOf = (u: string) => new Set((recent.get(u) ?? []).map((i) => i.item_id));
      const allowed = new Set(mine.flatMap((n) => [...itemsOf(n.user_id)]));
      expectUnseenBestFirst(user, candidates, 100);
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      // Each candidate's score is Σ over neighbours of similarity × that neighbour's item score.
      const expected = (itemId: string) =>
        mine.reduce(
          (sum, n) => sum + n.score * ((recent.get(n.user_id) ?? []).find((i) => i.item_id === itemId)?.score ?? 0),
          0,
        );
      for (const c of candidates.slice(0, 5)) expect(c.score).toBeCloseTo(expected(c.itemId), 4);
    }
  });

  it('answers nothing, without an error, for a user it has no neighbours for', async () => {
    const response = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without engagement (empty snapshots)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

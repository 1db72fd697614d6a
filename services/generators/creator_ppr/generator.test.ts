import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { creatorItems } from '../../../libs/data/batch/jobs/creator_items.js';
import { followGraph, type FollowGraphRow } from '../../../libs/data/batch/jobs/follow_graph.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator creator_ppr', () => {
  const fixture = useServedGenerator(generator, { users: 12 });
  let graph: FollowGraphRow[];
  /** creator → the users linked to it (its audience). */
  const audience = new Map<string, Set<string>>();
  const creatorOf = new Map<string, string>();

  beforeAll(async () => {
    graph = (await readSnapshot(snapshotsOf(fixture.world), followGraph)).rows;
    for (const row of graph)
      for (const c of row.creators)
        audience.set(c.creator_id, (audience.get(c.creator_id) ?? new Set()).add(row.user_id));
    for (const row of (await readSnapshot(snapshotsOf(fixture.world), creatorItems)).rows) {
      for (const item of row.items) creatorOf.set(item.item_id, row.creator_id);
    }
  });

  /** How much c's audience overlaps the followed creators' audiences: Σ_f cosine(audience(c), audience(f)). */
  const affinity = (c: string, followed: string[]) => {
    const mine = audience.get(c) ?? new Set<string>();
    return followed.reduce((sum, f) => {
      const theirs = audience.get(f) ?? new Set<string>();
      const common = [...mine].filter((u) => theirs.has(u)).length;
      return sum + common / Math.sqrt(Math.max(1, mine.size * theirs.size));
    }, 0);
  };

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('creator_ppr');
    expect(about.snapshots.map((s) => s.name)).toEqual(['follow_graph', 'creator_items']);
    expect(about.snapshots.every((s) => s.rows > 0)).toBe(true);
  });

  it("proposes the best items of creators whose audiences overlap the followed creators' most", async () => {
    let proposed = 0;
    let baseline = 0;
    let counted = 0;
    for (const { user, candidates } of await fixture.answers(100)) {
      const followed = user.followedCreators.filter((c) => audience.has(c));
      if (followed.length === 0) continue;
      expectUnseenBestFirst(user, candidates, 100);
      expect(candidates.filter((c) => !creatorOf.has(c.itemId))).toEqual([]);
      // The first few creators it proposes that the user does not follow, against all such creators.
      const others = [...new Set(candidates.map((c) => creatorOf.get(c.itemId)!))].filter((c) => !followed.includes(c));
      const everyOther = [...audience.keys()].filter((c) => !followed.includes(c));
      if (others.length === 0 || everyOther.length === 0) continue;
      const mean = (cs: string[]) => cs.reduce((s, c) => s + affinity(c, followed), 0) / cs.length;
      proposed += mean(others.slice(0, 3));
      baseline += mean(everyOther);
      counted++;
    }
    expect(counted).toBeGreaterThan(3);
    expect(proposed / counted).toBeGreaterThan(1.2 * (baseline / counted));
  });

  it("walks from followed creators alone: a user the graph has never seen still gets that creator's neighbourhood", async () => {
    // The creator with the largest audience, followed by a brand-new user.
    const [creator] = [...audience].sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1))[0];
    const user = UserContext.fromPartial({
      userId: 'new_follower',
      requestTimeMs: Date.UTC(2026, 0, 9),
      followedCreators: [creator],
    });
    const { candidates } = await fixture.served.generate(user, 200);
    const creators = [...new Set(candidates.map((c) => creatorOf.get(c.itemId)!))];
    expect(creators[0]).toBe(creator);
    // Every creator it reaches shares audience with the followed one (two hops away).
    expect(creators.filter((c) => c !== creator && affinity(c, [creator]) === 0)).toEqual([]);
    expect(creators.length).toBeGreaterThan(1);
  });

  it('is deterministic: the same request, the same answer', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect((await fixture.served.generate(user, 50)).candidates).toEqual(
      (await fixture.served.generate(user, 50)).candidates,
    );
  });

  it('answers nothing, without an error, for a user with no follows and no history', async () => {
    const response = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without creators (empty snapshots)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

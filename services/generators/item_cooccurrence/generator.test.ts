// item_cooccurrence: item-to-item CF. Every candidate is a co-engagement neighbour of one of the
// user's recent items, scored by the seed's weight times the pair's strength, summed over seeds.
import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { cooccurrence, type CooccurrenceRow } from '../../../libs/data/batch/jobs/cooccurrence.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator item_cooccurrence', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let neighbors: Map<string, CooccurrenceRow['neighbors']>;

  beforeAll(async () => {
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), cooccurrence);
    neighbors = new Map(snapshot.rows.map((r) => [r.item_id, r.neighbors]));
  });

  it('from one clicked item, proposes exactly its neighbours in the order of their strength', async () => {
    const [seed, list] = [...neighbors].find(([, n]) => n.length >= 10)!;
    const user = UserContext.fromPartial({
      userId: 'nobody_new',
      recentActions: [{ itemId: seed, type: ActionType.ACTION_TYPE_CLICK, timeMs: fixture.endMs - 60_000 }],
    });
    const { candidates } = await fixture.served.generate(user, 10);
    const expected = list.filter((n) => n.item_id !== seed).sort((a, b) => b.score - a.score);
    expect(candidates.map((c) => c.itemId)).toEqual(expected.slice(0, 10).map((n) => n.item_id));
    expect(candidates.every((c) => c.reason === `co-engaged with ${seed}`)).toBe(true);
  });

  it("proposes only neighbours of a real user's seeds, unseen, best first", async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
      const near = new Set(
        engagementSeeds(user, 20).flatMap((s) => (neighbors.get(s.itemId) ?? []).map((n) => n.item_id)),
      );
      for (const c of candidates) expect(near.has(c.itemId), `${c.itemId} co-engaged with a seed`).toBe(true);
    }
  });

  it('answers a user without history with nothing, and no error', async () => {
    expect((await fixture.served.generate(UserContext.fromPartial({ userId: 'nobody_new' }), 20)).candidates).toEqual(
      [],
    );
  });
});

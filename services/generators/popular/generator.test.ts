// popular: the time-decayed popularity list, walked from the top, skipping what the user engaged with.
import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { popularity } from '../../../libs/data/batch/jobs/popularity.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator popular', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let ranked: string[];

  beforeAll(async () => {
    ranked = (await readSnapshot(snapshotsOf(fixture.world), popularity)).rows.map((r) => r.item_id);
  });

  it('gives a user without history the top of the popularity list, in order', async () => {
    expect(ranked.length).toBeGreaterThan(100);
    const { candidates } = await fixture.served.generate(UserContext.fromPartial({ userId: 'nobody_new' }), 40);
    expect(candidates.map((c) => c.itemId)).toEqual(ranked.slice(0, 40));
  });

  it('skips exactly the items a user engaged with and keeps the list order', async () => {
    const seen = [ranked[0], ranked[3], ranked[7]];
    const user = UserContext.fromPartial({
      userId: 'nobody_new',
      recentActions: seen.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_CLICK,
        timeMs: fixture.endMs - 60_000 * (i + 1),
      })),
    });
    const { candidates } = await fixture.served.generate(user, 20);
    expect(candidates.map((c) => c.itemId)).toEqual(ranked.filter((id) => !seen.includes(id)).slice(0, 20));
  });

  it('answers real users from the list, unseen, best first', async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
      const engaged = engagedItems(user);
      expect(candidates.map((c) => c.itemId)).toEqual(ranked.filter((id) => !engaged.has(id)).slice(0, 50));
    }
  });
});

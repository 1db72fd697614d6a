// followed_creators: only items by creators the user follows, interleaved across creators so one
// prolific creator does not take the whole quota.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import generator from './generator.js';

describe('generator followed_creators', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let creatorOf: Map<string, string>;
  /** Creators with at least 5 items, most items first. */
  let prolific: string[];

  beforeAll(async () => {
    const items = await worldRows<{ item_id: string; creator_id: string }>(
      fixture.world,
      'SELECT item_id, creator_id FROM items WHERE creator_id IS NOT NULL',
    );
    creatorOf = new Map(items.map((r) => [r.item_id, r.creator_id]));
    const counts = new Map<string, number>();
    for (const c of creatorOf.values()) counts.set(c, (counts.get(c) ?? 0) + 1);
    prolific = [...counts]
      .filter(([, n]) => n >= 5)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([c]) => c);
  });

  it('proposes only items by the creators a real user follows', async () => {
    let answered = 0;
    for (const { user, candidates } of await fixture.answers(60)) {
      const followed = new Set(user.followedCreators);
      if (followed.size === 0) continue;
      expectUnseenBestFirst(user, candidates, 60, { allowEmpty: true });
      for (const c of candidates)
        expect(followed.has(creatorOf.get(c.itemId)!), `${c.itemId} by a followed creator`).toBe(true);
      answered += candidates.length > 0 ? 1 : 0;
    }
    expect(answered).toBeGreaterThan(0);
  });

  it('interleaves creators: with three followed, the first three come from three different creators', async () => {
    const three = prolific.slice(0, 3);
    expect(three).toHaveLength(3);
    const user = UserContext.fromPartial({ userId: 'nobody_new', followedCreators: three });
    const { candidates } = await fixture.served.generate(user, 12);
    expect(candidates).toHaveLength(12);
    const creators = candidates.map((c) => creatorOf.get(c.itemId)!);
    expect(new Set(creators.slice(0, 3))).toEqual(new Set(three));
    for (const creator of three) expect(creators.filter((c) => c === creator)).toHaveLength(4);
  });

  it('answers a user who follows nobody with nothing, and no error', async () => {
    expect((await fixture.served.generate(UserContext.fromPartial({ userId: 'nobody_new' }), 20)).candidates).toEqual(
      [],
    );
  });
});

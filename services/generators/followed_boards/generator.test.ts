// followed_boards: only items on the boards the user follows, most recently added first.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator followed_boards', () => {
  // Its users are the ones following the most boards, picked below.
  const fixture = useServedGenerator(generator, { users: 0 });
  /** board -> item -> when it was first added (catalog board contents and saves in the log). */
  let added: Map<string, Map<string, number>>;
  let followers: string[];
  /** Boards someone follows: the ones the batch job keeps, sorted so the picks below are repeatable. */
  let followedBoards: string[];

  beforeAll(async () => {
    const rows = await worldRows<{ board_id: string; item_id: string; added_ms: number }>(
      fixture.world,
      `SELECT board_id, item_id, min(t) AS added_ms FROM (
         SELECT board_id, item_id, added_ms AS t FROM board_items
         UNION ALL SELECT board_id, item_id, time_ms FROM events WHERE action = 'save' AND board_id IS NOT NULL
       ) GROUP BY board_id, item_id`,
    );
    added = new Map();
    for (const r of rows) {
      if (!added.has(r.board_id)) added.set(r.board_id, new Map());
      added.get(r.board_id)!.set(r.item_id, r.added_ms);
    }
    followers = (
      await worldRows<{ user_id: string }>(
        fixture.world,
        `SELECT user_id FROM follows WHERE target_type = 'board' GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 8`,
      )
    ).map((r) => r.user_id);
    followedBoards = (
      await worldRows<{ board_id: string }>(
        fixture.world,
        `SELECT DISTINCT target_id AS board_id FROM follows WHERE target_type = 'board' ORDER BY board_id`,
      )
    ).map((r) => r.board_id);
  });

  it('proposes only items on boards the user follows, newest additions first', async () => {
    expect(followers.length).toBeGreaterThan(0);
    for (const userId of followers) {
      const user = await fixture.events.context(userId);
      expect(user.followedBoards.length).toBeGreaterThan(0);
      const { candidates } = await fixture.served.generate(user, 50);
      expectUnseenBestFirst(user, candidates, 50);
      const engaged = engagedItems(user);
      const newest = (item: string) =>
        Math.max(...user.followedBoards.map((b) => added.get(b)?.get(item) ?? -Infinity));
      for (const c of candidates) expect(user.followedBoards.some((b) => added.get(b)?.has(c.itemId))).toBe(true);
      // The first candidate is the newest addition to any followed board the user has not engaged with.
      const all = user.followedBoards.flatMap((b) => [...(added.get(b)?.keys() ?? [])]).filter((i) => !engaged.has(i));
      expect(newest(candidates[0].itemId)).toBe(Math.max(...all.map(newest)));
    }
  });

  it('changes with the boards followed', async () => {
    const [a, b] = followedBoards.filter((id) => (added.get(id)?.size ?? 0) >= 5);
    const answer = async (board: string) =>
      (
        await fixture.served.generate(
          UserContext.fromPartial({ userId: 'nobody_new', followedBoards: [board], requestTimeMs: fixture.endMs }),
          100,
        )
      ).candidates.map((c) => c.itemId);
    const [onA, onB] = [await answer(a), await answer(b)];
    expect(onA.every((id) => added.get(a)!.has(id))).toBe(true);
    expect(onB.every((id) => added.get(b)!.has(id))).toBe(true);
    expect(onA.length).toBe(Math.min(100, added.get(a)!.size));
  });

  it('answers nothing for a user who follows no boards, or a world without boards', async () => {
    expect(
      (
        await fixture.served.generate(
          UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs }),
          20,
        )
      ).candidates,
    ).toEqual([]);

    const imported = await serveOnImportedWorld(generator);
    try {
      const user = UserContext.fromPartial({ userId: '1', followedBoards: ['b1'], requestTimeMs: 1_000_003_000_000 });
      expect((await imported.generate(user, 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

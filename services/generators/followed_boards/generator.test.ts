// followed_boards: only items on the boards the user follows, most recently added first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator followed_boards', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let endMs: number;
  /** board -> item -> when it was first added (catalog board contents and saves in the log). */
  let added: Map<string, Map<string, number>>;
  let followers: string[];
  /** Boards someone follows: the ones the batch job keeps, sorted so the picks below are repeatable. */
  let followedBoards: string[];

  beforeAll(async () => {
    const world = await testWorld();
    const manifest = await readWorldManifest(world);
    endMs = manifest.startMs + manifest.days * DAY_MS;
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const rows = await queryRows<{ board_id: string; item_id: string; added_ms: number }>(
        duck.conn,
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
        await queryRows<{ user_id: string }>(
          duck.conn,
          `SELECT user_id FROM follows WHERE target_type = 'board' GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 8`,
        )
      ).map((r) => r.user_id);
      followedBoards = (
        await queryRows<{ board_id: string }>(duck.conn, `SELECT DISTINCT target_id AS board_id FROM follows WHERE target_type = 'board' ORDER BY board_id`)
      ).map((r) => r.board_id);
    } finally {
      duck.close();
    }
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it('proposes only items on boards the user follows, newest additions first', async () => {
    expect(followers.length).toBeGreaterThan(0);
    for (const userId of followers) {
      const user = await events.context(userId);
      expect(user.followedBoards.length).toBeGreaterThan(0);
      const { candidates } = await served.generate(user, 50);
      expect(candidates.length).toBeGreaterThan(0);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      const newest = (item: string) => Math.max(...user.followedBoards.map((b) => added.get(b)?.get(item) ?? -Infinity));
      for (const c of candidates) {
        expect(user.followedBoards.some((b) => added.get(b)?.has(c.itemId))).toBe(true);
        expect(engaged.has(c.itemId)).toBe(false);
      }
      // The first candidate is the newest addition to any followed board the user has not engaged with.
      const all = user.followedBoards.flatMap((b) => [...(added.get(b)?.keys() ?? [])]).filter((i) => !engaged.has(i));
      expect(newest(candidates[0].itemId)).toBe(Math.max(...all.map(newest)));
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
  });

  it('changes with the boards followed', async () => {
    const [a, b] = followedBoards.filter((id) => (added.get(id)?.size ?? 0) >= 5);
    const answer = async (board: string) =>
      (await served.generate(UserContext.fromPartial({ userId: 'nobody_new', followedBoards: [board], requestTimeMs: endMs }), 100)).candidates.map((c) => c.itemId);
    const [onA, onB] = [await answer(a), await answer(b)];
    expect(onA.every((id) => added.get(a)!.has(id))).toBe(true);
    expect(onB.every((id) => added.get(b)!.has(id))).toBe(true);
    expect(onA.length).toBe(Math.min(100, added.get(a)!.size));
  });

  it('answers nothing for a user who follows no boards, or a world without boards', async () => {
    expect((await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: endMs }), 20)).candidates).toEqual([]);

    const imported = await serveOnImportedWorld(generator);
    try {
      const user = UserContext.fromPartial({ userId: '1', followedBoards: ['b1'], requestTimeMs: 1_000_003_000_000 });
      expect((await imported.generate(user, 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

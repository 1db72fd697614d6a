// resurface: items from the neighbourhood of the user's own boards (boards sharing their items,
// boards of the same topic), never what is on their boards already or what they engaged with lately.
import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator resurface', () => {
  const fixture = useServedGenerator(generator, { users: 6 });
  /** board -> its items (catalog contents and saves in the log), owner and topic. */
  let boards: Map<string, { owner: string; topic: string; items: Set<string> }>;

  beforeAll(async () => {
    const rows = await worldRows<{ board_id: string; owner: string; topic: string; items: string[] }>(
      fixture.world,
      `SELECT b.board_id, b.owner_user_id AS owner, b.topic, list(DISTINCT x.item_id) FILTER (WHERE x.item_id IS NOT NULL) AS items
       FROM boards b LEFT JOIN (
         SELECT board_id, item_id FROM board_items
         UNION ALL SELECT board_id, item_id FROM events WHERE action = 'save' AND board_id IS NOT NULL
       ) x ON x.board_id = b.board_id
       GROUP BY ALL`,
    );
    boards = new Map(rows.map((r) => [r.board_id, { owner: r.owner, topic: r.topic, items: new Set(r.items ?? []) }]));
  });

  /** Items on other owners' boards that share an item with, or have the topic of, one of these boards. */
  function neighbourhood(own: string[]): Set<string> {
    const mine = own.map((b) => boards.get(b)!);
    const out = new Set<string>();
    for (const [, other] of boards) {
      if (own.some((b) => boards.get(b)!.owner === other.owner)) continue;
      const near = mine.some((m) => m.topic === other.topic || [...other.items].some((i) => m.items.has(i)));
      if (near) for (const item of other.items) out.add(item);
    }
    return out;
  }

  it("proposes items from the neighbourhood of the user's boards, none on them already, none engaged with", async () => {
    for (const { user, candidates } of await fixture.answers(100)) {
      expect(user.ownBoards.length).toBeGreaterThan(0);
      expectUnseenBestFirst(user, candidates, 100);
      const near = neighbourhood(user.ownBoards);
      const onOwn = new Set(user.ownBoards.flatMap((b) => [...boards.get(b)!.items]));
      for (const c of candidates) {
        expect(near.has(c.itemId)).toBe(true);
        expect(onOwn.has(c.itemId)).toBe(false);
      }
    }
  });

  it('follows the boards: different boards, different neighbourhoods; an engaged item drops out', async () => {
    const topicsSeen = new Set<string>();
    const [a, b] = [...boards]
      .filter(([, x]) => x.items.size >= 5 && !topicsSeen.has(x.topic) && topicsSeen.add(x.topic))
      .map(([id]) => id);
    const ask = async (board: string, extra: Partial<UserContext> = {}) =>
      (
        await fixture.served.generate(
          UserContext.fromPartial({
            userId: boards.get(board)!.owner,
            ownBoards: [board],
            requestTimeMs: fixture.endMs,
            ...extra,
          }),
          30,
        )
      ).candidates;
    const [onA, onB] = [await ask(a), await ask(b)];
    expect(onA.length).toBeGreaterThan(0);
    expect(onA.map((c) => c.itemId)).not.toEqual(onB.map((c) => c.itemId));
    // Once the user clicks the top candidate, it is no longer proposed.
    const top = onA[0].itemId;
    const after = await ask(a, {
      recentActions: [{ itemId: top, type: ActionType.ACTION_TYPE_CLICK, timeMs: fixture.endMs - 60_000, boardId: '' }],
    });
    expect(after.map((c) => c.itemId)).not.toContain(top);
    expect(after.length).toBeGreaterThan(0);
  });

  it('answers nothing for a user without boards, or a world without boards', async () => {
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
      expect(
        (await imported.generate(UserContext.fromPartial({ userId: '1', ownBoards: ['b1'] }), 20)).candidates,
      ).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

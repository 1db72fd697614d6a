import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { boardGraph, type BoardGraphRow } from '../../../libs/data/batch/jobs/board_graph.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator board_neighbors', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let boards: BoardGraphRow[];

  beforeAll(async () => {
    boards = (await readSnapshot(snapshotsOf(fixture.world), boardGraph)).rows;
  });

  const savesOf = (user: UserContext) =>
    new Set(user.recentActions.filter((a) => a.type === ActionType.ACTION_TYPE_SAVE).map((a) => a.itemId));

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('board_neighbors');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'board_graph', rows: boards.length })]);
  });

  it("returns only items that share another person's board with one of the user's saves, none already engaged, best first", async () => {
    let answered = 0;
    for (const { user, candidates } of await fixture.answers(100)) {
      const saves = savesOf(user);
      const own = new Set(user.ownBoards);
      const allowed = new Set<string>();
      for (const b of boards)
        if (!own.has(b.board_id) && b.items.some((i) => saves.has(i))) for (const i of b.items) allowed.add(i);
      // It must answer when some other board holds a save and more besides.
      const shouldAnswer = saves.size > 0 && allowed.size > saves.size;
      if (shouldAnswer) answered++;
      expectUnseenBestFirst(user, candidates, 100, { allowEmpty: !shouldAnswer });
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
    }
    expect(answered).toBeGreaterThan(fixture.users.length / 2);
  });

  it('prefers small, followed boards: an item on a followed 3-pin board outranks one on an unfollowed 30-pin board', async () => {
    // Two boards hold the one saved item: pick a small board with followers and a larger one without.
    const byItem = new Map<string, BoardGraphRow[]>();
    for (const b of boards) for (const i of b.items) byItem.set(i, [...(byItem.get(i) ?? []), b]);
    const pair = [...byItem].find(([, bs]) => {
      const small = bs.find((b) => b.followers > 0 && b.items.length <= 6);
      const big = bs.find((b) => b.followers === 0 && b.items.length >= 3 * (small?.items.length ?? Infinity));
      return small && big;
    });
    expect(pair, 'the tiny world has such a pair of boards').toBeDefined();
    const [item, bs] = pair!;
    const small = bs.find((b) => b.followers > 0 && b.items.length <= 6)!;
    const big = bs.find((b) => b.followers === 0 && b.items.length >= 3 * small.items.length)!;
    const user = UserContext.fromPartial({
      userId: 'probe',
      requestTimeMs: Date.UTC(2026, 0, 9),
      recentActions: [{ itemId: item, type: ActionType.ACTION_TYPE_SAVE, timeMs: Date.UTC(2026, 0, 8) }],
    });
    const score = new Map((await fixture.served.generate(user, 1_000)).candidates.map((c) => [c.itemId, c.score]));
    // Items reached through exactly one of the boards that hold the save.
    const onlyOn = (board: BoardGraphRow) =>
      board.items.filter((i) => i !== item && bs.every((b) => b === board || !b.items.includes(i)));
    const smallScores = onlyOn(small).map((i) => score.get(i)!);
    const bigScores = onlyOn(big).map((i) => score.get(i)!);
    expect(smallScores.length).toBeGreaterThan(0);
    expect(bigScores.length).toBeGreaterThan(0);
    expect(Math.min(...smallScores)).toBeGreaterThan(Math.max(...bigScores));
  });

  it('answers nothing, without an error, for a user with no saves', async () => {
    const nobody = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(nobody.candidates).toEqual([]);
    const clicker = UserContext.fromPartial({
      userId: 'clicker',
      requestTimeMs: Date.UTC(2026, 0, 9),
      recentActions: [{ itemId: boards[0].items[0], type: ActionType.ACTION_TYPE_CLICK, timeMs: Date.UTC(2026, 0, 8) }],
    });
    expect((await fixture.served.generate(clicker, 20)).candidates).toEqual([]);
  });

  it('answers nothing for a world without boards (empty snapshot)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { boardGraph, type BoardGraphRow } from '../../../libs/data/batch/jobs/board_graph.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator pixie', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let boards: BoardGraphRow[];

  beforeAll(async () => {
    boards = (await readSnapshot(snapshotsOf(fixture.world), boardGraph)).rows;
  });

  /** Items that share a board with any of the given items. */
  const boardNeighbours = (items: Set<string>) => {
    const near = new Set<string>();
    for (const b of boards) if (b.items.some((i) => items.has(i))) for (const i of b.items) near.add(i);
    return near;
  };

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('pixie');
    expect(about.requestCost).toMatch(/steps/);
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'board_graph', rows: boards.length })]);
  });

  it('proposes fresh items for active users, within the quota, best first', async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
    }
  });

  it('concentrates near its seed item: far more of its picks share a board with it than items at random', async () => {
    const allItems = [...new Set(boards.flatMap((b) => b.items))].sort();
    const boardCount = new Map<string, number>();
    for (const b of boards) for (const i of b.items) boardCount.set(i, (boardCount.get(i) ?? 0) + 1);
    // Probes: one saved item each, on two to four boards.
    const probes = allItems.filter((i) => boardCount.get(i)! >= 2 && boardCount.get(i)! <= 4).slice(0, 10);
    expect(probes.length).toBe(10);
    let near = 0;
    let total = 0;
    let baseline = 0;
    for (const item of probes) {
      const user = UserContext.fromPartial({
        userId: `probe_${item}`,
        requestTimeMs: Date.UTC(2026, 0, 9),
        recentActions: [{ itemId: item, type: 3 /* SAVE */, timeMs: Date.UTC(2026, 0, 8) }],
      });
      const neighbourhood = boardNeighbours(new Set([item]));
      neighbourhood.delete(item);
      baseline += neighbourhood.size / (allItems.length - 1);
      const top = (await fixture.served.generate(user, 20)).candidates;
      near += top.filter((c) => neighbourhood.has(c.itemId)).length;
      total += top.length;
    }
    baseline /= probes.length;
    expect(total).toBeGreaterThan(0);
    expect(near / total).toBeGreaterThan(0.5);
    expect(near / total).toBeGreaterThan(4 * baseline);
  });

  it("keeps active users' top picks in their seeds' board neighbourhood", async () => {
    let near = 0;
    let total = 0;
    for (const { user, candidates: top } of await fixture.answers(20)) {
      const neighbourhood = boardNeighbours(new Set(engagementSeeds(user, 20).map((s) => s.itemId)));
      near += top.filter((c) => neighbourhood.has(c.itemId)).length;
      total += top.length;
    }
    expect(near / total).toBeGreaterThan(0.9);
  });

  it('gives the same answer to the same request, and walks differently for a different user', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    const first = await fixture.served.generate(user, 100);
    const second = await fixture.served.generate(user, 100);
    expect(second.candidates).toEqual(first.candidates);
    // Same history under another id: other walks, so not the very same visit counts.
    const other = await fixture.served.generate({ ...user, userId: `${user.userId}_twin` }, 100);
    expect(other.candidates.map((c) => c.score)).not.toEqual(first.candidates.map((c) => c.score));
  });

  it('answers nothing, without an error, for a user with no history', async () => {
    const response = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without boards (empty snapshot)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

// ease: EASE's x_u·B over the user's engaged items, from each seed's pruned row of B.
import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { easeNeighbors, type EaseNeighborsRow } from '../../../libs/data/batch/jobs/ease_neighbors.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator ease', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let neighbors: Map<string, EaseNeighborsRow['neighbors']>;
  const clicked = (...items: string[]) =>
    UserContext.fromPartial({
      userId: 'nobody_new',
      recentActions: items.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_CLICK,
        timeMs: fixture.endMs - (i + 1) * 60_000,
      })),
    });

  beforeAll(async () => {
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), easeNeighbors);
    neighbors = new Map(snapshot.rows.map((r) => [r.item_id, r.neighbors]));
  });

  it('describes itself as learned, reading ease_neighbors', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('ease');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'ease_neighbors', rows: neighbors.size })]);
  });

  it('from one clicked item, proposes its row of B, largest weight first, the weights as scores', async () => {
    const [seed, row] = [...neighbors].find(([, n]) => n.length >= 10)!;
    const { candidates } = await fixture.served.generate(clicked(seed), 10);
    // Scores travel as float32.
    expect(candidates.map((c) => [c.itemId, c.score])).toEqual(
      row.slice(0, 10).map((n) => [n.item_id, Math.fround(n.score)]),
    );
    expect(candidates.every((c) => c.reason === `EASE: goes with ${seed}`)).toBe(true);
  });

  it('sums the weights of every seed, unweighted by default (x_u·B), and leaves the seeds out', async () => {
    // Two items with a common neighbour, clicked a day apart: recency does not weigh in.
    const [a, row] = [...neighbors].find(([, n]) => n.length >= 10)!;
    const common = row[0].item_id;
    const b = [...neighbors.keys()].find(
      (id) => id !== a && id !== common && neighbors.get(id)!.some((n) => n.item_id === common),
    )!;
    expect(b).toBeDefined();
    const weight = (seed: string, item: string) => neighbors.get(seed)!.find((n) => n.item_id === item)?.score ?? 0;
    const { candidates } = await fixture.served.generate(clicked(a, b), 300);
    const score = new Map(candidates.map((c) => [c.itemId, c.score]));
    expect(score.get(common)).toBe(Math.fround(weight(a, common) + weight(b, common)));
    expect(score.has(a) || score.has(b)).toBe(false);
  });

  it("proposes only neighbours of a real user's seeds, unseen, best first", async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
      const near = new Set(
        engagementSeeds(user, 100).flatMap((s) => (neighbors.get(s.itemId) ?? []).map((n) => n.item_id)),
      );
      for (const c of candidates) expect(near.has(c.itemId), `${c.itemId} weighted by a seed`).toBe(true);
    }
  });

  it('answers nothing, and no error, without history or without a model (an empty snapshot)', async () => {
    expect((await fixture.served.generate(UserContext.fromPartial({ userId: 'nobody_new' }), 20)).candidates).toEqual(
      [],
    );
    expect(await generateOnEmptySnapshots(generator, clicked([...neighbors.keys()][0]))).toEqual([]);
  });
});

describe('generator ease, recencyFloor 0.3', () => {
  const fixture = useServedGenerator(generator, { users: 0, settings: { recencyFloor: 0.3 } });
  let neighbors: Map<string, EaseNeighborsRow['neighbors']>;
  const clicked = (...items: string[]) =>
    UserContext.fromPartial({
      userId: 'nobody_new',
      recentActions: items.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_CLICK,
        timeMs: fixture.endMs - (i + 1) * 60_000,
      })),
    });

  beforeAll(async () => {
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), easeNeighbors);
    neighbors = new Map(snapshot.rows.map((r) => [r.item_id, r.neighbors]));
  });

  it('sums the weights of every seed, the newer seed weighing more (x_u·B, x_u by recency), and leaves the seeds out', async () => {
    // Two items with a common neighbour: a clicked last, b one action before it.
    const [a, row] = [...neighbors].find(([, n]) => n.length >= 10)!;
    const common = row[0].item_id;
    const b = [...neighbors.keys()].find(
      (id) => id !== a && id !== common && neighbors.get(id)!.some((n) => n.item_id === common),
    )!;
    expect(b).toBeDefined();
    const weight = (seed: string, item: string) => neighbors.get(seed)!.find((n) => n.item_id === item)?.score ?? 0;
    // Floor 0.3, the default half-life of 10 engaged items: a is the newest (weight 1), b one older.
    const older = 0.3 + 0.7 * 0.5 ** (1 / 10);
    const { candidates } = await fixture.served.generate(clicked(a, b), 300);
    const score = new Map(candidates.map((c) => [c.itemId, c.score]));
    expect(score.get(common)).toBe(Math.fround(weight(a, common) + older * weight(b, common)));
    expect(score.has(a) || score.has(b)).toBe(false);
  });
});

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

/** The ease generator served with `settings`, its fitted rows of B, and requests built from them. */
function useEase(options: { settings?: Record<string, unknown>; users: number }) {
  const fixture = useServedGenerator(generator, options);
  const ease = {
    fixture,
    neighbors: new Map<string, EaseNeighborsRow['neighbors']>(),
    /** A user who clicked these items, the first one newest, a minute apart. */
    clicked: (...items: string[]) =>
      UserContext.fromPartial({
        userId: 'nobody_new',
        recentActions: items.map((itemId, i) => ({
          itemId,
          type: ActionType.ACTION_TYPE_CLICK,
          timeMs: fixture.endMs - (i + 1) * 60_000,
        })),
      }),
    /** B's weight from seed to item (0 when pruned). */
    weight: (seed: string, item: string) => ease.neighbors.get(seed)!.find((n) => n.item_id === item)?.score ?? 0,
    /** Two seeds with a common neighbour. */
    pair() {
      const [a, row] = [...ease.neighbors].find(([, n]) => n.length >= 10)!;
      const common = row[0].item_id;
      const b = [...ease.neighbors.keys()].find(
        (id) => id !== a && id !== common && ease.neighbors.get(id)!.some((n) => n.item_id === common),
      )!;
      expect(b).toBeDefined();
      return { a, b, common };
    },
  };
  beforeAll(async () => {
    const snapshot = await readSnapshot(snapshotsOf(fixture.world), easeNeighbors);
    for (const r of snapshot.rows) ease.neighbors.set(r.item_id, r.neighbors);
  });
  return ease;
}

describe('generator ease', () => {
  const ease = useEase({ users: 5 });
  const { fixture, neighbors, clicked } = ease;

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
    // Two items with a common neighbour, clicked at different times: recency does not weigh in.
    const { a, b, common } = ease.pair();
    const { candidates } = await fixture.served.generate(clicked(a, b), 300);
    const score = new Map(candidates.map((c) => [c.itemId, c.score]));
    expect(score.get(common)).toBe(Math.fround(ease.weight(a, common) + ease.weight(b, common)));
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
  const ease = useEase({ users: 0, settings: { recencyFloor: 0.3 } });

  it('sums the weights of every seed, the newer seed weighing more (x_u by recency), and leaves the seeds out', async () => {
    // a clicked last, b one action before it. Floor 0.3 and the default half-life of 10 engaged items:
    // a weighs 1, b a little less.
    const { a, b, common } = ease.pair();
    const older = 0.3 + 0.7 * 0.5 ** (1 / 10);
    const { candidates } = await ease.fixture.served.generate(ease.clicked(a, b), 300);
    const score = new Map(candidates.map((c) => [c.itemId, c.score]));
    expect(score.get(common)).toBe(Math.fround(ease.weight(a, common) + older * ease.weight(b, common)));
    expect(score.has(a) || score.has(b)).toBe(false);
  });
});

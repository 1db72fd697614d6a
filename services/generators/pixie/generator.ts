// Pixie (Eksombatchai et al., WWW 2018) on the item–board graph: random walks with restarts from
// the user's recent items, the step budget split across them, visits combined with multi-hit
// boosting, each query's walks stopped early once enough items are well visited.
import { z } from 'zod';
import { boardGraph } from '../../../libs/data/batch/jobs/board_graph.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { createRng, hashSeed } from '../../../libs/data/random.js';
import { bipartiteFromRows } from '../../../libs/graph/bipartite.js';
import { PixieWalker, type PixieQuery } from '../../../libs/graph/pixie.js';
import { hasEngagementSeed } from '../../../libs/generator-sdk/enable.js';

export default defineGenerator({
  name: 'pixie',
  kind: 'graph',
  description:
    "Pixie random walks with restarts on the item–board graph from the user's recent items, multi-hit boosted, early-stopped.",
  requestCost:
    'O(steps) walk steps (default 20,000 in all, fewer when it stops early) + O(visited + quota log quota) to rank',
  snapshots: [boardGraph],
  settings: z.object({
    /** Recent items the walks start from, at most. */
    maxSeeds: z.number().int().min(1).default(20),
    /** Seed of the walks' random numbers (with the user id). */
    seed: z.number().int().default(0),
    /** Walk steps in all, split across the seeds. */
    steps: z.number().int().min(1).default(20_000),
    restartProbability: z.number().gt(0).max(1).default(0.5),
    /** A query's walks stop once this many pins have earlyStopVisits visits; default max(1,000, 2 × quota). */
    earlyStopPins: z.number().int().min(1).optional(),
    earlyStopVisits: z.number().int().min(1).default(4),
  }),
  // Boards on the left, items (pins) on the right, as typed-array CSR both ways.
  prepare: (rows) =>
    new PixieWalker(bipartiteFromRows(rows.board_graph.map((r) => ({ left: r.board_id, right: r.items })))),
  enable: hasEngagementSeed,
  generate({ user, quota }, { data: walker, settings }) {
    const items = walker.graph.right;
    const queries: PixieQuery[] = [];
    for (const seed of engagementSeeds(user, settings.maxSeeds)) {
      const node = items.get(seed.itemId);
      if (node !== undefined) queries.push({ node, weight: seed.weight });
    }
    if (queries.length === 0) return [];
    const engaged = engagedItems(user);
    // Seeded from the user id: the same request gets the same walks, hence the same answer.
    const rng = createRng(hashSeed('pixie', settings.seed, user.userId));
    const result = walker.run(
      queries,
      {
        totalSteps: settings.steps,
        restartProbability: settings.restartProbability,
        earlyStopPins: settings.earlyStopPins ?? Math.max(1_000, 2 * quota),
        earlyStopVisits: settings.earlyStopVisits,
        rng,
      },
      quota,
      (node) => engaged.has(items.name(node)),
    );
    return result.top.map(({ node, value }) => ({
      itemId: items.name(node),
      score: value,
      reason: 'pixie walk from your recent items',
    }));
  },
});

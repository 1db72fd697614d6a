// Pixie (Eksombatchai et al., WWW 2018) on the item–board graph: random walks with restarts from
// the user's recent items, the step budget split across them, visits combined with multi-hit
// boosting, each query's walks stopped early once enough items are well visited.
import { defineGenerator, numberSetting } from '../../../libs/generator-sdk/define.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { createRng, hashSeed } from '../../../libs/data/random.js';
import { bipartiteFromRows } from '../../../libs/graph/bipartite.js';
import { PixieWalker, type PixieQuery } from '../../../libs/graph/pixie.js';

interface BoardRow {
  board_id: string;
  items: string[];
}

export default defineGenerator({
  name: 'pixie',
  kind: 'graph',
  description: "Pixie random walks with restarts on the item–board graph from the user's recent items, multi-hit boosted, early-stopped.",
  requestCost: 'O(steps) walk steps (default 20,000 in all, fewer when it stops early) + O(visited + quota log quota) to rank',
  snapshots: ['board_graph'],
  // Boards on the left, items (pins) on the right, as typed-array CSR both ways.
  prepare: (rows) => new PixieWalker(bipartiteFromRows((rows.board_graph as BoardRow[]).map((r) => ({ left: r.board_id, right: r.items })))),
  generate({ user, quota }, { data: walker, settings }) {
    const items = walker.graph.right;
    const queries: PixieQuery[] = [];
    for (const seed of engagementSeeds(user, numberSetting(settings, 'maxSeeds', 20))) {
      const node = items.get(seed.itemId);
      if (node !== undefined) queries.push({ node, weight: seed.weight });
    }
    if (queries.length === 0) return [];
    const engaged = engagedItems(user);
    // Seeded from the user id: the same request gets the same walks, hence the same answer.
    const rng = createRng(hashSeed('pixie', numberSetting(settings, 'seed', 0), user.userId));
    const result = walker.run(
      queries,
      {
        totalSteps: numberSetting(settings, 'steps', 20_000),
        restartProbability: numberSetting(settings, 'restartProbability', 0.5),
        earlyStopPins: numberSetting(settings, 'earlyStopPins', Math.max(1_000, 2 * quota)),
        earlyStopVisits: numberSetting(settings, 'earlyStopVisits', 4),
        rng,
      },
      quota,
      (node) => engaged.has(items.name(node)),
    );
    return result.top.map(({ node, value }) => ({ itemId: items.name(node), score: value, reason: 'pixie walk from your recent items' }));
  },
});

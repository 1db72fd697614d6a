// EASE as a generator: the closed-form item–item model the eval measured as its strongest baseline
// on an id-only log, served from the weights the ease_neighbors batch job fits. A user's score for
// an item is EASE's x_u·B over the user's engaged items in the context and each seed's pruned row of
// B. By default x_u is EASE's own binary vector; `recencyFloor` below 1 weighs newer seeds more, for
// logs whose users drift (measured in docs/RELEVANCE.md, "ease with recent seeds weighing more":
// it helps the generator on the imported fixture, not the served page). Kind `learned`: B is a model
// fitted to the data (a ridge regression per item, with λ), like mf's factors, not a graph walk or
// a count; it is served as a neighbour lookup all the same.
import { z } from 'zod';
import { easeNeighbors } from '../../../libs/data/batch/jobs/ease_neighbors.js';
import { scoredItemLists } from '../../../libs/columns/id-lists.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementPositions, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'ease',
  kind: 'learned',
  description:
    "EASE (closed-form item–item linear model on clicks and saves): items with the largest summed weights from the user's engaged items.",
  requestCost:
    'O(seeds × 100 neighbours), seeds ≤ maxSeeds (default 100); only the 5,000 most engaged items have neighbours (batch.ease_neighbors.maxItems)',
  snapshots: [easeNeighbors],
  settings: z.object({
    /** The user's clicked or saved items (the context's, newest and saves first) whose rows of B are summed, at most. */
    maxSeeds: z.number().int().min(1).default(100),
    /** A seed's weight in x_u is floor + (1 − floor) · ½^(newer engaged items / half-life); 1 (default) counts every seed 1. */
    recencyFloor: z.number().min(0).max(1).default(1),
    /** Engaged items after which a seed's recency part has halved. */
    recencyHalfLife: z.number().positive().default(10),
  }),
  // Off the JS heap: item → row of B as shared typed arrays (libs/columns).
  prepare: (rows) =>
    scoredItemLists(
      rows.ease_neighbors,
      (r) => r.item_id,
      (r) => r.neighbors,
    ),
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    const { recencyFloor: floor, recencyHalfLife: halfLife } = settings;
    // Sorting the context's actions is needed only when recency weighs in.
    const positions = floor < 1 ? engagementPositions(user) : undefined;
    for (const { itemId } of engagementSeeds(user, settings.maxSeeds)) {
      const row = data.list(itemId);
      const weight = positions ? floor + (1 - floor) * 0.5 ** ((positions.get(itemId) ?? 0) / halfLife) : 1;
      for (let k = 0; k < row.length; k++) board.add(row.id(k), weight * row.score(k), `EASE: goes with ${itemId}`);
    }
    return board.top(quota, engagedItems(user));
  },
});

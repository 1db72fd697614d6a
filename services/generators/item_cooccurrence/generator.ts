import { z } from 'zod';
import { cooccurrence } from '../../../libs/data/batch/jobs/cooccurrence.js';
import { scoredItemLists } from '../../../libs/columns/id-lists.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';
import { hasEngagementSeed } from '../../../libs/generator-sdk/enable.js';

export default defineGenerator({
  name: 'item_cooccurrence',
  kind: 'graph',
  description: 'Item-to-item CF: items co-engaged with what the user recently clicked or saved.',
  requestCost: 'O(seeds × 50 neighbours), seeds ≤ maxSeeds (default 20)',
  snapshots: [cooccurrence],
  settings: z.object({
    /** Recently clicked or saved items whose neighbours are proposed, at most. */
    maxSeeds: z.number().int().min(1).default(20),
  }),
  // Off the JS heap: item → neighbours as shared typed arrays (libs/columns).
  prepare: (rows) =>
    scoredItemLists(
      rows.cooccurrence,
      (r) => r.item_id,
      (r) => r.neighbors,
    ),
  enable: hasEngagementSeed,
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    for (const seed of engagementSeeds(user, settings.maxSeeds)) {
      const neighbors = data.list(seed.itemId);
      for (let k = 0; k < neighbors.length; k++)
        board.add(neighbors.id(k), seed.weight * neighbors.score(k), `co-engaged with ${seed.itemId}`);
    }
    return board.top(quota, engagedItems(user));
  },
});

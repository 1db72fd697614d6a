import { z } from 'zod';
import { cooccurrence } from '../../../libs/data/batch/jobs/cooccurrence.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';

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
  prepare: (rows) => new Map(rows.cooccurrence.map((r) => [r.item_id, r.neighbors])),
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    for (const seed of engagementSeeds(user, settings.maxSeeds)) {
      for (const n of data.get(seed.itemId) ?? [])
        board.add(n.item_id, seed.weight * n.score, `co-engaged with ${seed.itemId}`);
    }
    return board.top(quota, engagedItems(user));
  },
});

import { z } from 'zod';
import { userNeighbors } from '../../../libs/data/batch/jobs/user_neighbors.js';
import { userRecentItems } from '../../../libs/data/batch/jobs/user_recent_items.js';
import { IdListsBuilder } from '../../../libs/columns/id-lists.js';
import { SharedIdsBuilder } from '../../../libs/columns/shared-ids.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'user_cf',
  kind: 'graph',
  description: "User-based CF: recent clicks and saves of the users whose engagement most resembles this user's.",
  requestCost: 'O(neighbours × 50 items), neighbours ≤ 30 precomputed per user',
  snapshots: [userNeighbors, userRecentItems],
  settings: z.object({
    /** The most similar users whose recent items are proposed (the snapshot keeps 30). */
    maxNeighbors: z.number().int().min(1).default(30),
  }),
  // Off the JS heap, one id table for both: a neighbour's number finds its recent items directly.
  prepare(rows) {
    const table = new SharedIdsBuilder();
    const neighbors = new IdListsBuilder(table, true);
    const recent = new IdListsBuilder(table, true);
    neighbors.setRows(
      rows.user_neighbors,
      (r) => r.user_id,
      (r) => r.neighbors,
      (n) => n.user_id,
      (n) => n.score,
    );
    recent.setRows(
      rows.user_recent_items,
      (r) => r.user_id,
      (r) => r.items,
      (i) => i.item_id,
      (i) => i.score,
    );
    const ids = table.finish();
    return { neighbors: neighbors.finish(ids), recent: recent.finish(ids) };
  },
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    const neighbors = data.neighbors.list(user.userId);
    for (let k = 0; k < Math.min(neighbors.length, settings.maxNeighbors); k++) {
      const items = data.recent.at(neighbors.node(k));
      const reason = `engaged by similar user ${neighbors.id(k)}`;
      for (let i = 0; i < items.length; i++) board.add(items.id(i), neighbors.score(k) * items.score(i), reason);
    }
    return board.top(quota, engagedItems(user));
  },
});

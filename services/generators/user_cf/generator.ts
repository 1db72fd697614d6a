import { z } from 'zod';
import { userNeighbors } from '../../../libs/data/batch/jobs/user_neighbors.js';
import { userRecentItems } from '../../../libs/data/batch/jobs/user_recent_items.js';
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
  prepare: (rows) => ({
    neighbors: new Map(rows.user_neighbors.map((r) => [r.user_id, r.neighbors])),
    recent: new Map(rows.user_recent_items.map((r) => [r.user_id, r.items])),
  }),
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    const neighbors = (data.neighbors.get(user.userId) ?? []).slice(0, settings.maxNeighbors);
    for (const n of neighbors) {
      for (const item of data.recent.get(n.user_id) ?? [])
        board.add(item.item_id, n.score * item.score, `engaged by similar user ${n.user_id}`);
    }
    return board.top(quota, engagedItems(user));
  },
});

import { defineGenerator, numberSetting } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

interface NeighborsRow {
  user_id: string;
  neighbors: { user_id: string; score: number }[];
}

interface RecentItemsRow {
  user_id: string;
  items: { item_id: string; score: number }[];
}

export default defineGenerator({
  name: 'user_cf',
  kind: 'graph',
  description: 'User-based CF: recent clicks and saves of the users whose engagement most resembles this user\'s.',
  requestCost: 'O(neighbours × 50 items), neighbours ≤ 30 precomputed per user',
  snapshots: ['user_neighbors', 'user_recent_items'],
  prepare: (rows) => ({
    neighbors: new Map((rows.user_neighbors as NeighborsRow[]).map((r) => [r.user_id, r.neighbors])),
    recent: new Map((rows.user_recent_items as RecentItemsRow[]).map((r) => [r.user_id, r.items])),
  }),
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    const neighbors = (data.neighbors.get(user.userId) ?? []).slice(0, numberSetting(settings, 'maxNeighbors', 30));
    for (const n of neighbors) {
      for (const item of data.recent.get(n.user_id) ?? []) board.add(item.item_id, n.score * item.score, `engaged by similar user ${n.user_id}`);
    }
    return board.top(quota, engagedItems(user));
  },
});

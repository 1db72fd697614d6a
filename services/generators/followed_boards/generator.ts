import { z } from 'zod';
import { followedBoardItems, type FollowedBoardItemsRow } from '../../../libs/data/batch/jobs/followed_board_items.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

const DAY_MS = 86_400_000;

interface FollowedBoardsData {
  byBoard: Map<string, FollowedBoardItemsRow['items']>;
  /** The newest addition: the clock when a request carries none. */
  newestMs: number;
}

export default defineGenerator({
  name: 'followed_boards',
  kind: 'heuristic',
  description:
    'Items recently added to the boards the user follows, newest additions first (score halves every halfLifeDays, default 7).',
  requestCost: 'O(followed boards × 100), plus sorting that many: recency-scored walk over precomputed per-board lists',
  snapshots: [followedBoardItems],
  settings: z.object({
    /** An addition's score halves every this many days. */
    halfLifeDays: z.number().positive().default(7),
  }),
  prepare(rows): FollowedBoardsData {
    const list = rows.followed_board_items;
    return {
      byBoard: new Map(list.map((r) => [r.board_id, r.items])),
      newestMs: list.reduce((max, r) => Math.max(max, r.items[0]?.added_ms ?? 0), 0),
    };
  },
  generate({ user, quota }, { data, settings }) {
    const now = user.requestTimeMs || data.newestMs;
    const halfLifeMs = settings.halfLifeDays * DAY_MS;
    const exclude = engagedItems(user);
    // An item on several followed boards counts from its newest addition.
    const newest = new Map<string, { score: number; reason: string }>();
    for (const boardId of new Set(user.followedBoards)) {
      for (const item of data.byBoard.get(boardId) ?? []) {
        if (item.added_ms > now || exclude.has(item.item_id)) continue;
        const score = 0.5 ** ((now - item.added_ms) / halfLifeMs);
        if (score > (newest.get(item.item_id)?.score ?? -1))
          newest.set(item.item_id, { score, reason: `added to followed board ${boardId}` });
      }
    }
    const board = new ScoreBoard();
    for (const [itemId, { score, reason }] of newest) board.add(itemId, score, reason);
    return board.top(quota);
  },
});

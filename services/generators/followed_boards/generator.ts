import { z } from 'zod';
import { followedBoardItems } from '../../../libs/data/batch/jobs/followed_board_items.js';
import { IdListsBuilder, type IdLists } from '../../../libs/columns/id-lists.js';
import { SharedIdsBuilder } from '../../../libs/columns/shared-ids.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

const DAY_MS = 86_400_000;

interface FollowedBoardsData {
  /** Per board, off the JS heap: its newest items, each scored with the time it was added (ms). */
  byBoard: IdLists;
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
    const table = new SharedIdsBuilder();
    const byBoard = new IdListsBuilder(table, true);
    byBoard.setRows(
      list,
      (r) => r.board_id,
      (r) => r.items,
      (i) => i.item_id,
      (i) => i.added_ms,
    );
    return {
      byBoard: byBoard.finish(table.finish()),
      newestMs: list.reduce((max, r) => Math.max(max, r.items[0]?.added_ms ?? 0), 0),
    };
  },
  enable: (user) => user.followedBoards.length > 0,
  generate({ user, quota }, { data, settings }) {
    const now = user.requestTimeMs || data.newestMs;
    const halfLifeMs = settings.halfLifeDays * DAY_MS;
    const exclude = engagedItems(user);
    // An item on several followed boards counts from its newest addition.
    const newest = new Map<string, { score: number; reason: string }>();
    for (const boardId of new Set(user.followedBoards)) {
      const items = data.byBoard.list(boardId);
      for (let k = 0; k < items.length; k++) {
        const itemId = items.id(k);
        const addedMs = items.score(k);
        if (addedMs > now || exclude.has(itemId)) continue;
        const score = 0.5 ** ((now - addedMs) / halfLifeMs);
        if (score > (newest.get(itemId)?.score ?? -1))
          newest.set(itemId, { score, reason: `added to followed board ${boardId}` });
      }
    }
    const board = new ScoreBoard();
    for (const [itemId, { score, reason }] of newest) board.add(itemId, score, reason);
    return board.top(quota);
  },
});

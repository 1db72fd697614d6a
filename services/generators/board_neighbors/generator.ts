import { z } from 'zod';
import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import { boardGraph, type BoardGraphRow } from '../../../libs/data/batch/jobs/board_graph.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { bipartiteFromRows, type BipartiteGraph } from '../../../libs/graph/bipartite.js';
import { SparseCounts, topTouched } from '../../../libs/graph/sparse-counts.js';
import { hasSave } from '../../../libs/generator-sdk/enable.js';

interface BoardIndex {
  graph: BipartiteGraph;
  /** Per board: quality / √size, what one of its items gets from it. */
  boardWeight: Float64Array;
  /** Per item: its boards, best-weighted first (a CSR parallel to graph.rightToLeft). */
  boardsByWeight: Int32Array;
  scores: SparseCounts;
}

/**
 * Board quality: followers count, log-damped (1 + ln(1 + followers)); a board's pins share it
 * as 1/√size, so a small focused board says more about each of its items than a big one.
 */
function prepareIndex(rows: BoardGraphRow[]): BoardIndex {
  const graph = bipartiteFromRows(rows.map((r) => ({ left: r.board_id, right: r.items })));
  const boardWeight = new Float64Array(graph.left.size);
  for (const r of rows) {
    boardWeight[graph.left.get(r.board_id)!] =
      (1 + Math.log1p(Math.max(0, r.followers))) / Math.sqrt(Math.max(1, r.items.length));
  }
  const { offsets, targets } = graph.rightToLeft;
  const boardsByWeight = targets.slice();
  for (let item = 0; item < graph.right.size; item++) {
    const own = Array.from(boardsByWeight.subarray(offsets[item], offsets[item + 1]));
    own.sort((a, b) => boardWeight[b] - boardWeight[a] || a - b);
    boardsByWeight.set(own, offsets[item]);
  }
  return { graph, boardWeight, boardsByWeight, scores: new SparseCounts(graph.right.size) };
}

/** The user's recent saves, newest first, weighted by recency (half-life 48 h). */
function recentSaves(user: UserContext, max: number): { itemId: string; weight: number }[] {
  const now = user.requestTimeMs || Math.max(0, ...user.recentActions.map((a) => a.timeMs));
  const seen = new Set<string>();
  const out: { itemId: string; weight: number }[] = [];
  for (const a of user.recentActions) {
    if (a.type !== ActionType.ACTION_TYPE_SAVE || seen.has(a.itemId)) continue;
    seen.add(a.itemId);
    out.push({ itemId: a.itemId, weight: 0.5 ** (Math.max(0, now - a.timeMs) / 3_600_000 / 48) });
    if (out.length >= max) break;
  }
  return out;
}

export default defineGenerator({
  name: 'board_neighbors',
  kind: 'graph',
  description: "Items on other people's boards that hold the user's recent saves, weighted by board quality and size.",
  requestCost: 'O(saves × boardsPerSave × itemsPerBoard), defaults 20 × 30 × 100',
  snapshots: [boardGraph],
  settings: z.object({
    /** The user's most recent saves it starts from. */
    maxSaves: z.number().int().min(1).default(20),
    /** Boards followed from each save, best-weighted first. */
    boardsPerSave: z.number().int().min(1).default(30),
    /** The newest items taken from each board. */
    itemsPerBoard: z.number().int().min(1).default(100),
  }),
  prepare: (rows) => prepareIndex(rows.board_graph),
  enable: hasSave,
  generate({ user, quota }, { data, settings }) {
    const { graph, boardWeight, boardsByWeight, scores } = data;
    const { boardsPerSave, itemsPerBoard } = settings;
    const own = new Set(user.ownBoards);
    const exclude = engagedItems(user);
    const { offsets: itemBoards } = graph.rightToLeft;
    const { offsets: boardItems, targets: items } = graph.leftToRight;
    scores.reset();
    for (const save of recentSaves(user, settings.maxSaves)) {
      const item = graph.right.get(save.itemId);
      if (item === undefined) continue;
      const end = Math.min(itemBoards[item + 1], itemBoards[item] + boardsPerSave);
      for (let e = itemBoards[item]; e < end; e++) {
        const board = boardsByWeight[e];
        // The user's own boards are their collection, not a neighbourhood (resurface covers them).
        if (own.has(graph.left.name(board))) continue;
        const gain = save.weight * boardWeight[board];
        // Items are newest first on a board: the newest itemsPerBoard.
        const last = Math.min(boardItems[board + 1], boardItems[board] + itemsPerBoard);
        for (let k = boardItems[board]; k < last; k++) scores.add(items[k], gain);
      }
    }
    const top = topTouched(scores, quota, (node) => exclude.has(graph.right.name(node)));
    scores.reset();
    return top.map(({ node, value }) => ({
      itemId: graph.right.name(node),
      score: value,
      reason: 'on boards that hold your saves',
    }));
  },
});

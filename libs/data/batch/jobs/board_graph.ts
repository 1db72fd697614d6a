import { defineBatchJob } from '../job.js';

/** Boards with more pins than this are dropped: catch-all hubs that join unrelated items. */
export const MAX_BOARD_PINS = 500;
/** A pin on more boards than this keeps only its newest edges, so hubs do not soak up every walk. */
export const MAX_PIN_BOARDS = 100;

/** A row of `board_graph`: one board of the item–board graph. */
export interface BoardGraphRow {
  board_id: string;
  /** Its board follows. */
  followers: number;
  /** Its pin count after pruning. */
  size: number;
  /** Item ids, newest first. */
  items: string[];
}

/**
 * Rows: { board_id, followers, size, items: [item_id] }, items newest first. The item–board
 * bipartite graph for pixie and board_neighbors: the catalog's board_items plus every save logged
 * with a board (live saves reach the graph on the next batch run). Degree pruning, as in Pixie:
 * boards above MAX_BOARD_PINS pins are dropped, a pin keeps at most its MAX_PIN_BOARDS newest
 * boards, and boards left with fewer than two pins (dead ends for a walk) are dropped.
 * `size` is the board's pin count after pruning, `followers` its board follows. No rows when the
 * world has no boards.
 */
export const boardGraph = defineBatchJob<BoardGraphRow>()({
  name: 'board_graph',
  description: `item–board graph (board_items + saves to boards), degree-pruned: boards > ${MAX_BOARD_PINS} pins dropped, pins keep their ${MAX_PIN_BOARDS} newest boards, boards need ≥ 2 pins`,
  sql: () => `
    WITH pins AS (
      SELECT board_id, item_id, min(added_ms) AS added_ms FROM (
        SELECT board_id, item_id, added_ms FROM board_items
        UNION ALL
        SELECT board_id, item_id, time_ms FROM events WHERE action = 'save' AND board_id IS NOT NULL
      )
      WHERE board_id IS NOT NULL AND item_id IS NOT NULL
      GROUP BY board_id, item_id
    ),
    small_boards AS (
      SELECT * FROM pins
      QUALIFY count(*) OVER (PARTITION BY board_id) <= ${MAX_BOARD_PINS}
    ),
    pruned AS (
      SELECT * FROM small_boards
      QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY added_ms DESC, board_id) <= ${MAX_PIN_BOARDS}
    ),
    followers AS (
      SELECT target_id AS board_id, count(DISTINCT user_id) AS n FROM follows WHERE target_type = 'board' GROUP BY target_id
    )
    SELECT p.board_id, coalesce(any_value(f.n), 0)::INTEGER AS followers, count(*)::INTEGER AS size,
      list_transform(list_sort(list({'rank': -p.added_ms, 'item_id': p.item_id})), lambda x: x.item_id) AS items
    FROM pruned p LEFT JOIN followers f ON f.board_id = p.board_id
    GROUP BY p.board_id
    HAVING count(*) >= 2
    ORDER BY p.board_id`,
});

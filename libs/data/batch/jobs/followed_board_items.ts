import { defineBatchJob } from '../job.js';

const PER_BOARD = 100;

/** A row of `followed_board_items`: a followed board's newest items. */
export interface FollowedBoardItemsRow {
  board_id: string;
  /** Newest first, at most 100. */
  items: { item_id: string; added_ms: number }[];
}

/**
 * Rows: { board_id, items: [{ item_id, added_ms }] }, newest first: for every board someone
 * follows, the 100 items most recently added to it (the catalog's board contents plus saves onto
 * it in the event log, live ones included; an item counts from when it was first added).
 * No rows without boards or board follows.
 */
export const followedBoardItems = defineBatchJob<FollowedBoardItemsRow>()({
  name: 'followed_board_items',
  description:
    'for every followed board, the 100 items most recently added to it (catalog board contents + saves in the log)',
  sql: () => `
    WITH followed AS (
      SELECT DISTINCT target_id AS board_id FROM follows WHERE target_type = 'board' AND target_id IS NOT NULL
    ),
    added AS (
      SELECT board_id, item_id, min(added_ms) AS added_ms FROM (
        SELECT board_id, item_id, added_ms FROM board_items
        UNION ALL
        SELECT board_id, item_id, time_ms AS added_ms FROM events WHERE action = 'save' AND board_id IS NOT NULL
      ) WHERE board_id IN (SELECT board_id FROM followed) AND item_id IS NOT NULL
      GROUP BY board_id, item_id
      QUALIFY row_number() OVER (PARTITION BY board_id ORDER BY min(added_ms) DESC, item_id) <= ${PER_BOARD}
    )
    SELECT board_id,
      list_transform(list_sort(list({'rank': -added_ms, 'item_id': item_id, 'added_ms': added_ms})),
                     lambda x: {'item_id': x.item_id, 'added_ms': x.added_ms}) AS items
    FROM added
    GROUP BY board_id
    ORDER BY board_id`,
});

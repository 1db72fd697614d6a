import { defineBatchJob } from '../job.js';

const ITEMS_PER_BOARD = 1_000;
const SIMILAR_PER_BOARD = 20;
/** Items on more boards than this are too generic to say two boards are alike (and would make the pair count quadratic). */
const MAX_BOARDS_PER_ITEM = 100;

/** A row of `resurface_boards`: a board and its neighbourhood. */
export interface ResurfaceBoardRow {
  board_id: string;
  owner_user_id: string | null;
  topic: string | null;
  /** Newest first, at most 1,000 (in practice all). */
  items: string[];
  /** Boards of other owners holding the same items, most similar first (cosine over shared items), at most 20. */
  similar_boards: { board_id: string; score: number }[];
}

/**
 * Rows: { board_id, owner_user_id, topic, items: [item_id], similar_boards: [{ board_id, score }] }
 * for every board: its items, newest first (catalog contents plus saves in the log; capped at
 * 1,000, in practice all, so the generator can leave out what is on a user's boards already), and
 * up to 20 boards of other owners that hold the same items, by shared / sqrt(size * other size)
 * (items on more than 100 boards left out of the count). No rows without boards.
 */
export const resurfaceBoards = defineBatchJob<ResurfaceBoardRow>()({
  name: 'resurface_boards',
  description:
    'per board: its newest items (≤ 1,000) and its 20 most similar boards of other owners (shared items, cosine), for resurface',
  sql: () => `
    WITH added AS (
      SELECT board_id, item_id, min(added_ms) AS added_ms FROM (
        SELECT board_id, item_id, added_ms FROM board_items
        UNION ALL
        SELECT board_id, item_id, time_ms AS added_ms FROM events WHERE action = 'save' AND board_id IS NOT NULL
      ) WHERE item_id IS NOT NULL
      GROUP BY board_id, item_id
    ),
    board AS (
      SELECT b.board_id, b.owner_user_id, b.topic, count(a.item_id) AS size
      FROM boards b LEFT JOIN added a ON a.board_id = b.board_id
      GROUP BY b.board_id, b.owner_user_id, b.topic
    ),
    specific AS (
      SELECT a.board_id, a.item_id FROM added a
      WHERE a.item_id IN (SELECT item_id FROM added GROUP BY item_id HAVING count(*) <= ${MAX_BOARDS_PER_ITEM})
    ),
    pairs AS (
      SELECT x.board_id AS board_a, y.board_id AS board_b, count(*) AS shared
      FROM specific x JOIN specific y ON x.item_id = y.item_id AND x.board_id <> y.board_id
      GROUP BY x.board_id, y.board_id
    ),
    board_similar AS (
      SELECT p.board_a, p.board_b, p.shared / sqrt(ba.size * bb.size) AS score
      FROM pairs p JOIN board ba ON ba.board_id = p.board_a JOIN board bb ON bb.board_id = p.board_b
      WHERE ba.owner_user_id IS DISTINCT FROM bb.owner_user_id OR ba.owner_user_id IS NULL
      QUALIFY row_number() OVER (PARTITION BY p.board_a ORDER BY score DESC, p.board_b) <= ${SIMILAR_PER_BOARD}
    ),
    similar_lists AS (
      SELECT board_a AS board_id,
        list_transform(list_sort(list({'rank': -score, 'board_id': board_b, 'score': score})),
                       lambda x: {'board_id': x.board_id, 'score': x.score}) AS similar_boards
      FROM board_similar GROUP BY board_a
    ),
    item_lists AS (
      SELECT board_id, list_transform(list_sort(list({'rank': -added_ms, 'item_id': item_id})), lambda x: x.item_id) AS items
      FROM (SELECT * FROM added QUALIFY row_number() OVER (PARTITION BY board_id ORDER BY added_ms DESC, item_id) <= ${ITEMS_PER_BOARD})
      GROUP BY board_id
    )
    SELECT b.board_id, b.owner_user_id, b.topic,
      coalesce(il.items, []::VARCHAR[]) AS items,
      coalesce(sl.similar_boards, []::STRUCT(board_id VARCHAR, score DOUBLE)[]) AS similar_boards
    FROM board b
    LEFT JOIN item_lists il ON il.board_id = b.board_id
    LEFT JOIN similar_lists sl ON sl.board_id = b.board_id
    ORDER BY b.board_id`,
});

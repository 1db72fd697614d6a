import { defineBatchJob, type ScoredItem } from '../job.js';

const WINDOW_MS = 60 * 60 * 1000;

/** A row of `cooccurrence`: an item and its co-engaged neighbours, best first. */
export interface CooccurrenceRow {
  item_id: string;
  neighbors: ScoredItem[];
}

/**
 * Rows: { item_id, neighbors: [{ item_id, score }] }, neighbours best first. Two items co-occur
 * when one user clicked or saved both within an hour of each other (which covers a whole session
 * here); each user counts once per pair. The score is users(i, j) / sqrt(users(i) * users(j)),
 * so popular items do not neighbour everything.
 */
export const cooccurrence = defineBatchJob<CooccurrenceRow>()({
  name: 'cooccurrence',
  description:
    'item-CF: items clicked/saved by the same user within 1 h (so also in one session), cosine-normalized, top 50 neighbours per item',
  sql: () => `
    WITH engaged AS (
      SELECT DISTINCT user_id, item_id, time_ms FROM events WHERE action IN ('click', 'save')
    ),
    pairs AS (
      SELECT DISTINCT a.user_id, a.item_id AS item_a, b.item_id AS item_b
      FROM engaged a JOIN engaged b
        ON a.user_id = b.user_id AND a.item_id <> b.item_id
       AND b.time_ms BETWEEN a.time_ms - ${WINDOW_MS} AND a.time_ms + ${WINDOW_MS}
    ),
    item_users AS (SELECT item_id, count(DISTINCT user_id) AS n FROM engaged GROUP BY item_id),
    scored AS (
      SELECT p.item_a, p.item_b, count(*) / sqrt(any_value(na.n) * any_value(nb.n)) AS score
      FROM pairs p
      JOIN item_users na ON na.item_id = p.item_a
      JOIN item_users nb ON nb.item_id = p.item_b
      GROUP BY p.item_a, p.item_b
    ),
    top AS (
      SELECT * FROM scored
      QUALIFY row_number() OVER (PARTITION BY item_a ORDER BY score DESC, item_b) <= 50
    )
    -- list_sort on (-score, item_id) orders the neighbours; much faster than list(... ORDER BY ...).
    -- Scores are rounded to 6 decimals: this is the biggest snapshot, and JSON digits add up.
    SELECT item_a AS item_id,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_b, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': round(x.score, 6)}) AS neighbors
    FROM top
    GROUP BY item_a
    ORDER BY item_a`,
});

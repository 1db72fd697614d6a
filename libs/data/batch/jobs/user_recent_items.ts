import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

/** Items kept per user. */
export const RECENT_ITEMS_PER_USER = 50;

/** A row of `user_recent_items`: a user's recent clicks and saves, best first. */
export interface UserRecentItemsRow {
  user_id: string;
  items: ScoredItem[];
}

/**
 * Rows: { user_id, items: [{ item_id, score }] }, best first: each user's most recent clicks and
 * saves, scored by action weight (save 3, click 1) × decay (half-life 3 days), at most
 * RECENT_ITEMS_PER_USER per user. What user_cf proposes from a user's neighbours.
 */
export const userRecentItems = defineBatchJob<UserRecentItemsRow>()({
  name: 'user_recent_items',
  description: `each user's ${RECENT_ITEMS_PER_USER} best recent clicks/saves (save 3, click 1, half-life 3 days)`,
  sql: (p) => `
    WITH scored AS (
      SELECT user_id, item_id, sum(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 3)}) AS score
      FROM events WHERE action IN ('click', 'save')
      GROUP BY user_id, item_id
      QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY score DESC, item_id) <= ${RECENT_ITEMS_PER_USER}
    )
    SELECT user_id,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_id, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS items
    FROM scored
    GROUP BY user_id
    ORDER BY user_id`,
});

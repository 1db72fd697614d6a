import { defineBatchJob } from '../job.js';

/** A row of `follow_graph`: a user and the creators it is linked to. */
export interface FollowGraphRow {
  user_id: string;
  creators: { creator_id: string; weight: number }[];
}

/**
 * Rows: { user_id, creators: [{ creator_id, weight }] }: the user–creator graph that creator_ppr
 * walks. An edge per follow (weight 1), plus an engagement edge when a user clicked or saved at
 * least two of a creator's items (0.1 per item, at most 0.5, added to a follow's weight), plus
 * each creator's own account linked to its creator (weight 1), so what a creator follows counts as
 * that creator's neighbourhood. No rows when the world has no creators.
 */
export const followGraph = defineBatchJob<FollowGraphRow>()({
  name: 'follow_graph',
  description:
    'user–creator graph: follows (1) + repeated engagement with a creator (0.1/item, ≤ 0.5) + creator accounts (1)',
  sql: () => `
    WITH follow_edges AS (
      SELECT DISTINCT user_id, target_id AS creator_id, 1.0 AS w FROM follows
      WHERE target_type = 'creator' AND user_id IS NOT NULL AND target_id IS NOT NULL
    ),
    engagement_edges AS (
      SELECT e.user_id, i.creator_id, least(0.5, 0.1 * count(DISTINCT e.item_id)) AS w
      FROM events e JOIN items i ON i.item_id = e.item_id
      WHERE e.action IN ('click', 'save') AND i.creator_id IS NOT NULL
      GROUP BY e.user_id, i.creator_id
      HAVING count(DISTINCT e.item_id) >= 2
    ),
    account_edges AS (
      SELECT user_id, creator_id, 1.0 AS w FROM creators WHERE user_id IS NOT NULL
    ),
    edges AS (
      SELECT user_id, creator_id, sum(w) AS w FROM (
        SELECT * FROM follow_edges UNION ALL SELECT * FROM engagement_edges UNION ALL SELECT * FROM account_edges
      ) GROUP BY user_id, creator_id
    )
    SELECT user_id,
      list_transform(list_sort(list({'rank': -w, 'creator_id': creator_id, 'weight': w})),
                     lambda x: {'creator_id': x.creator_id, 'weight': x.weight}) AS creators
    FROM edges
    GROUP BY user_id
    ORDER BY user_id`,
});

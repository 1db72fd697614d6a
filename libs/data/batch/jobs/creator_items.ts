import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

/** A row of `creator_items`: a creator's items, best first. */
export interface CreatorItemsRow {
  creator_id: string;
  items: ScoredItem[];
}

/**
 * Rows: { creator_id, items: [{ item_id, score }] }. The score is decayed engagement (half-life
 * 3 days) plus the item's creation counted as one click, so a creator's brand-new items rank
 * before their old unengaged ones. No rows when the world has no creators.
 */
export const creatorItems = defineBatchJob<CreatorItemsRow>()({
  name: 'creator_items',
  description:
    "each creator's items by recency-weighted engagement (creation counts as one click, half-life 3 days), top 100 per creator",
  sql: (p) => `
    WITH engagement AS (
      SELECT item_id, SUM(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 3)}) AS score
      FROM events WHERE action IN ('click', 'save') GROUP BY item_id
    ),
    scored AS (
      SELECT i.creator_id, i.item_id, coalesce(e.score, 0) + ${decaySql('i.created_ms', p, 3)} AS score
      FROM items i LEFT JOIN engagement e ON e.item_id = i.item_id
      WHERE i.creator_id IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY i.creator_id ORDER BY score DESC, i.item_id) <= 100
    )
    SELECT creator_id,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_id, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS items
    FROM scored
    GROUP BY creator_id
    ORDER BY creator_id`,
});

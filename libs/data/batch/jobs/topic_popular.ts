import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

/** A row of `topic_popular`: a topic's items, best first. */
export interface TopicPopularRow {
  topic: string;
  items: ScoredItem[];
}

/**
 * Rows: { topic, items: [{ item_id, score }] }, items best first: per topic, its items by
 * time-decayed engagement (save 3, click 1, half-life 3 days), top 300. No rows without topics.
 */
export const topicPopular = defineBatchJob<TopicPopularRow>()({
  name: 'topic_popular',
  description:
    "each topic's items by time-decayed engagement (save 3, click 1, half-life 3 days), top 300 per topic; none without topics",
  sql: (p) => `
    WITH engagement AS (
      SELECT item_id, sum(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 3)}) AS score
      FROM events WHERE action IN ('click', 'save') GROUP BY item_id
    ),
    ranked AS (
      SELECT i.topic, e.item_id, e.score
      FROM engagement e JOIN items i ON i.item_id = e.item_id
      WHERE i.topic IS NOT NULL AND e.score > 0
      QUALIFY row_number() OVER (PARTITION BY i.topic ORDER BY e.score DESC, e.item_id) <= 300
    )
    SELECT topic,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_id, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS items
    FROM ranked
    GROUP BY topic
    ORDER BY topic`,
});

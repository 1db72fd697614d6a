import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

const PER_TOPIC = 200;
/** Each further item of the same creator in a topic's list counts this much less (0.5, 0.25, ...). */
const CREATOR_DISCOUNT = 0.5;

/** A row of `cold_start`; rows come heaviest topic first. */
export interface ColdStartRow {
  topic: string;
  /** The topic's total decayed engagement. */
  weight: number;
  /** Best first, diversified by creator. */
  items: ScoredItem[];
}

/**
 * Rows: { topic, weight, items: [{ item_id, score }] }, topics by weight (their total decayed
 * engagement), items best first: per topic, its items by time-decayed engagement (save 3,
 * click 1, half-life 7 days), each creator's second item halved, third quartered and so on, so
 * the top of a list spans many creators. Top 200 per topic. No rows without topics.
 */
export const coldStart = defineBatchJob<ColdStartRow>()({
  name: 'cold_start',
  description:
    'per topic: top items by decayed engagement (half-life 7 days), diversified by creator (each further item of a creator halved), top 200; topic weight',
  sql: (p) => `
    WITH engagement AS (
      SELECT item_id, sum(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 7)}) AS engagement
      FROM events WHERE action IN ('click', 'save') GROUP BY item_id
    ),
    topical AS (
      SELECT i.topic, i.item_id, e.engagement,
        e.engagement * pow(${CREATOR_DISCOUNT}, row_number() OVER (
          PARTITION BY i.topic, coalesce(i.creator_id, i.item_id) ORDER BY e.engagement DESC, i.item_id) - 1) AS score
      FROM engagement e JOIN items i ON i.item_id = e.item_id
      WHERE i.topic IS NOT NULL AND e.engagement > 0
    ),
    weights AS (SELECT topic, sum(engagement) AS weight FROM topical GROUP BY topic),
    ranked AS (
      SELECT * FROM topical QUALIFY row_number() OVER (PARTITION BY topic ORDER BY score DESC, item_id) <= ${PER_TOPIC}
    )
    SELECT r.topic, any_value(w.weight) AS weight,
      list_transform(list_sort(list({'rank': -r.score, 'item_id': r.item_id, 'score': r.score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS items
    FROM ranked r JOIN weights w ON w.topic = r.topic
    GROUP BY r.topic
    ORDER BY weight DESC, r.topic`,
});

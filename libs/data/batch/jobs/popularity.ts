import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

/** Rows: { item_id, score }, best first. */
export const popularity = defineBatchJob<ScoredItem>()({
  name: 'popularity',
  description: 'time-decayed engagement per item (save 3, click 1, half-life 3 days), top 5,000, best first',
  sql: (p) => `
    SELECT item_id, SUM(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 3)}) AS score
    FROM events
    WHERE action IN ('click', 'save')
    GROUP BY item_id
    ORDER BY score DESC, item_id
    LIMIT 5000`,
});

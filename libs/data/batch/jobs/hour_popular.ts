import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL, decaySql, type ScoredItem } from '../job.js';

/** Weight of the engagement k hours away (k = 0, ±1, ±2) in an hour's blend. */
export const HOUR_BLEND = [1, 0.5, 0.25] as const;
const PER_HOUR = 300;

/** A row of `hour_popular`. */
export interface HourPopularRow {
  /** UTC hour of day, 0..23. */
  hour: number;
  /** Best first; engagement in that hour blended with ±1 h and ±2 h. */
  items: ScoredItem[];
}

/**
 * Rows: { hour, items: [{ item_id, score }] } for UTC hours 0..23, best first: time-decayed
 * engagement (save 3, click 1, half-life 7 days, longer than `popularity`'s because each hour
 * holds a 24th of the data) of the events in that hour of the day, blended with the neighbouring
 * hours (±1 weighs 0.5, ±2 weighs 0.25, wrapping around midnight). Top 300 per hour.
 */
export const hourPopular = defineBatchJob<HourPopularRow>()({
  name: 'hour_popular',
  description:
    'per UTC hour of day: decayed engagement (half-life 7 days) in that hour blended with ±1 h (0.5) and ±2 h (0.25), top 300 per hour',
  sql: (p) => `
    WITH per_hour AS (
      SELECT CAST((time_ms % ${p.dayMs}) // 3600000 AS INTEGER) AS hour, item_id,
        sum(${ENGAGEMENT_WEIGHT_SQL} * ${decaySql('time_ms', p, 7)}) AS engagement
      FROM events WHERE action IN ('click', 'save')
      GROUP BY 1, 2
    ),
    blend(offset_hours, weight) AS (
      VALUES (0, ${HOUR_BLEND[0]}), (-1, ${HOUR_BLEND[1]}), (1, ${HOUR_BLEND[1]}), (-2, ${HOUR_BLEND[2]}), (2, ${HOUR_BLEND[2]})
    ),
    blended AS (
      SELECT CAST((ph.hour - b.offset_hours + 24) % 24 AS INTEGER) AS target_hour, ph.item_id, sum(ph.engagement * b.weight) AS score
      FROM per_hour ph CROSS JOIN blend b
      GROUP BY 1, 2
    ),
    ranked AS (
      SELECT target_hour AS hour, item_id, score FROM blended
      WHERE score > 0
      QUALIFY row_number() OVER (PARTITION BY target_hour ORDER BY score DESC, item_id) <= ${PER_HOUR}
    )
    SELECT hour,
      list_transform(list_sort(list({'rank': -score, 'item_id': item_id, 'score': score})),
                     lambda x: {'item_id': x.item_id, 'score': x.score}) AS items
    FROM ranked
    GROUP BY hour
    ORDER BY hour`,
});

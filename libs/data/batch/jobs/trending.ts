import { defineBatchJob, ENGAGEMENT_WEIGHT_SQL } from '../job.js';

/** The "now" window whose engagement is compared with the baseline. */
export const TRENDING_RECENT_DAYS = 1;
/** The baseline: the days before the recent window. */
export const TRENDING_BASELINE_DAYS = 7;
/** Pseudo-days of the topic's per-item rate mixed into an item's baseline (all of it for a brand-new item). */
const PRIOR_DAYS = 2;
/** Added to the expected count under the square root, so one or two events do not make a trend. */
const NOISE_FLOOR = 2;

/** A row of `trending`; rows come best first. */
export interface TrendingRow {
  item_id: string;
  topic: string | null;
  /** (recent - expected) / sqrt(expected + 2): a smoothed z-score of the last 24 h against the baseline. */
  score: number;
  /** Weighted engagement (save 3, click 1) in the last 24 h before the snapshot. */
  recent: number;
  /** The daily engagement the baseline (item's previous 7 days, shrunk to its topic's rate) predicts. */
  expected: number;
}

/**
 * Rows: { item_id, topic, score, recent, expected }, best first. recent = weighted engagement
 * (save 3, click 1) in the last 24 h before asOfMs; expected = the item's daily engagement over the
 * 7 days before that, shrunk towards its topic's per-item daily rate with 2 pseudo-days (an item
 * younger than the baseline, or a world younger than it, leans on its topic more); score =
 * (recent - expected) / sqrt(expected + 2), a smoothed Poisson z-score: a steady favourite scores
 * about 0, a small item going from nothing to a handful of saves scores high, one stray click does not.
 * Only items with at least two engagement events in the window and a positive score; top 2,000.
 */
export const trending = defineBatchJob<TrendingRow>()({
  name: 'trending',
  description:
    'velocity over baseline: last-24 h weighted engagement vs the previous 7 days (shrunk to the topic rate), smoothed z-score, top 2,000',
  sql: (p) => {
    const recentFrom = p.asOfMs - TRENDING_RECENT_DAYS * p.dayMs;
    const baselineFrom = recentFrom - TRENDING_BASELINE_DAYS * p.dayMs;
    return `
    WITH eng AS (
      SELECT item_id, time_ms, ${ENGAGEMENT_WEIGHT_SQL} AS w FROM events WHERE action IN ('click', 'save')
    ),
    data_start AS (SELECT coalesce(min(time_ms), ${p.asOfMs}) AS t FROM events),
    recent AS (
      SELECT item_id, sum(w) AS recent, count(*) AS recent_events FROM eng WHERE time_ms >= ${recentFrom} GROUP BY item_id
    ),
    prior AS (
      SELECT item_id, sum(w) AS prior FROM eng WHERE time_ms >= ${baselineFrom} AND time_ms < ${recentFrom} GROUP BY item_id
    ),
    -- Days of the baseline window in which the item existed (and the log did).
    exposure AS (
      SELECT i.item_id, i.topic, coalesce(pr.prior, 0) AS prior,
        greatest(0.0, (${recentFrom} - greatest(i.created_ms, ${baselineFrom}, d.t)) / ${p.dayMs}.0) AS prior_days
      FROM items i CROSS JOIN data_start d LEFT JOIN prior pr ON pr.item_id = i.item_id
    ),
    global_rate AS (SELECT coalesce(sum(prior) / nullif(sum(prior_days), 0), 0) AS rate FROM exposure),
    topic_rate AS (
      SELECT topic, coalesce(sum(prior) / nullif(sum(prior_days), 0), 0) AS rate FROM exposure WHERE topic IS NOT NULL GROUP BY topic
    ),
    scored AS (
      SELECT x.item_id, x.topic, r.recent,
        (x.prior + ${PRIOR_DAYS} * coalesce(t.rate, g.rate)) / (x.prior_days + ${PRIOR_DAYS}) AS expected
      FROM recent r JOIN exposure x ON x.item_id = r.item_id
      CROSS JOIN global_rate g LEFT JOIN topic_rate t ON t.topic = x.topic
      WHERE r.recent_events >= 2
    )
    SELECT item_id, topic, (recent - expected) / sqrt(expected + ${NOISE_FLOOR}) AS score, recent, expected
    FROM scored
    WHERE recent > expected
    ORDER BY score DESC, item_id
    LIMIT 2000`;
  },
});

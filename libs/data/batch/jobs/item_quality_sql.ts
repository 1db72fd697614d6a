// Not a job: the smoothed engagement rate several heuristic jobs share (fresh_items, exposure).
import type { BatchParams } from '../job.js';

/** Pseudo-impressions of the item-level prior: an item needs about this many impressions before its own rate outweighs its creator's. */
export const ITEM_PRIOR_IMPRESSIONS = 20;
/** Pseudo-impressions of the creator- and topic-level priors (towards the global rate). */
export const GROUP_PRIOR_IMPRESSIONS = 200;

/**
 * CTEs (to follow `WITH`) ending in `item_quality`: one row per catalog item with
 * { item_id, creator_id, topic, locale, created_ms, impressions, engagements, rate, global_rate, quality }.
 * engagements = clicks + saves; rate = (engagements + 20 * prior) / (impressions + 20), where the prior
 * is the creator's rate (else the topic's, else the global one), itself shrunk towards the global rate
 * with 200 pseudo-impressions: a new item of a good creator starts above average, one impression
 * with a click does not make an item the best in the catalog. quality = rate / global rate (1 = average).
 */
export function itemQualityCtes(_p: BatchParams): string {
  return `
    q_counts AS (
      SELECT item_id,
        count(*) FILTER (WHERE action = 'impression') AS impressions,
        count(*) FILTER (WHERE action IN ('click', 'save')) AS engagements
      FROM events GROUP BY item_id
    ),
    q_items AS (
      SELECT i.item_id, i.creator_id, i.topic, i.locale, i.created_ms,
        coalesce(c.impressions, 0) AS impressions, coalesce(c.engagements, 0) AS engagements
      FROM items i LEFT JOIN q_counts c ON c.item_id = i.item_id
    ),
    -- One pseudo-engagement in ten pseudo-impressions keeps an empty world's rate defined.
    q_global AS (SELECT (sum(engagements) + 1.0) / (sum(impressions) + 10.0) AS rate FROM q_items),
    q_creator AS (
      SELECT q.creator_id, (sum(q.engagements) + ${GROUP_PRIOR_IMPRESSIONS} * any_value(g.rate)) / (sum(q.impressions) + ${GROUP_PRIOR_IMPRESSIONS}) AS rate
      FROM q_items q CROSS JOIN q_global g WHERE q.creator_id IS NOT NULL GROUP BY q.creator_id
    ),
    q_topic AS (
      SELECT q.topic, (sum(q.engagements) + ${GROUP_PRIOR_IMPRESSIONS} * any_value(g.rate)) / (sum(q.impressions) + ${GROUP_PRIOR_IMPRESSIONS}) AS rate
      FROM q_items q CROSS JOIN q_global g WHERE q.topic IS NOT NULL GROUP BY q.topic
    ),
    item_quality AS (
      SELECT q.*, g.rate AS global_rate,
        (q.engagements + ${ITEM_PRIOR_IMPRESSIONS} * coalesce(cr.rate, tp.rate, g.rate)) / (q.impressions + ${ITEM_PRIOR_IMPRESSIONS}) AS rate,
        (q.engagements + ${ITEM_PRIOR_IMPRESSIONS} * coalesce(cr.rate, tp.rate, g.rate)) / (q.impressions + ${ITEM_PRIOR_IMPRESSIONS}) / g.rate AS quality
      FROM q_items q CROSS JOIN q_global g
      LEFT JOIN q_creator cr ON cr.creator_id = q.creator_id
      LEFT JOIN q_topic tp ON tp.topic = q.topic
    )`;
}

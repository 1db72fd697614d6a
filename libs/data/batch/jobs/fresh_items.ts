import { defineBatchJob } from '../job.js';
import { itemQualityCtes } from './item_quality_sql.js';

/** The longest freshness window a `fresh` generator can be configured with. */
export const FRESH_MAX_DAYS = 7;
const PER_TOPIC = 1_000;

/** A row of `fresh_items`: an item created in the FRESH_MAX_DAYS before asOfMs. */
export interface FreshItemRow {
  item_id: string;
  topic: string | null;
  created_ms: number;
  impressions: number;
  /** Smoothed engagement rate relative to the catalog average (1 = average; creator prior for new items). */
  quality: number;
}

/**
 * Rows: { item_id, topic, created_ms, impressions, quality }, best quality first: items created in
 * the 7 days before asOfMs, with their smoothed engagement rate relative to the catalog average
 * (see item_quality_sql.ts; 1 = average, a new item starts at its creator's level). At most 1,000
 * per topic. The generator applies its own window (measured back from the request time) and bar.
 */
export const freshItems = defineBatchJob<FreshItemRow>()({
  name: 'fresh_items',
  description:
    'items created in the last 7 days with their smoothed engagement rate vs the catalog average (creator prior), top 1,000 per topic',
  sql: (p) => `
    WITH ${itemQualityCtes(p)}
    SELECT item_id, topic, created_ms, impressions, quality
    FROM item_quality
    WHERE created_ms >= ${p.asOfMs - FRESH_MAX_DAYS * p.dayMs}
    QUALIFY row_number() OVER (PARTITION BY topic ORDER BY quality DESC, item_id) <= ${PER_TOPIC}
    ORDER BY quality DESC, item_id`,
});

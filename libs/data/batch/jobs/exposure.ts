import { defineBatchJob } from '../job.js';
import { itemQualityCtes } from './item_quality_sql.js';

/** Items with at least this many impressions are not under-exposed for any `explore` setting. */
export const EXPOSURE_MAX_IMPRESSIONS = 30;
const PER_TOPIC = 2_000;

/** A row of `exposure`: an item with fewer than EXPOSURE_MAX_IMPRESSIONS impressions. */
export interface ExposureRow {
  item_id: string;
  topic: string | null;
  impressions: number;
  /** Smoothed engagement rate relative to the catalog average (1 = average; creator prior for unproven items). */
  quality: number;
}

/**
 * Rows: { item_id, topic, impressions, quality }, best quality first: every item shown fewer than
 * 30 times before asOfMs (never-shown ones included), with its smoothed engagement rate relative to
 * the catalog average (see item_quality_sql.ts). At most 2,000 per topic. The `explore` generator
 * applies its own exposure bound and quality floor.
 */
export const exposure = defineBatchJob<ExposureRow>()({
  name: 'exposure',
  description:
    'under-exposed items (< 30 impressions) with their smoothed engagement rate vs the catalog average (creator prior), top 2,000 per topic',
  sql: (p) => `
    WITH ${itemQualityCtes(p)}
    SELECT item_id, topic, impressions, quality
    FROM item_quality
    WHERE impressions < ${EXPOSURE_MAX_IMPRESSIONS}
    QUALIFY row_number() OVER (PARTITION BY topic ORDER BY quality DESC, item_id) <= ${PER_TOPIC}
    ORDER BY quality DESC, item_id`,
});

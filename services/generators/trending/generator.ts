import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

/** A row of the `trending` snapshot (libs/data/batch/jobs/trending.ts), best first. */
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

export default defineGenerator({
  name: 'trending',
  kind: 'heuristic',
  description: 'Items engaged with far more in the last 24 h than their baseline predicts (velocity over baseline, smoothed against tiny counts).',
  requestCost: 'O(quota + recent actions): a walk down a precomputed ranked list of at most 2,000 items',
  snapshots: ['trending'],
  prepare: (rows) => rows.trending as TrendingRow[],
  generate({ user, quota }, { data }) {
    const exclude = engagedItems(user);
    const out: Candidate[] = [];
    for (const row of data) {
      if (out.length >= quota) break;
      if (exclude.has(row.item_id)) continue;
      out.push({ itemId: row.item_id, score: row.score, reason: `trending: ${Math.round(row.recent)} engagement in 24 h vs ${row.expected.toFixed(1)} expected` });
    }
    return out;
  },
});

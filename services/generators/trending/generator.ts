import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { trending } from '../../../libs/data/batch/jobs/trending.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'trending',
  kind: 'heuristic',
  description:
    'Items engaged with far more in the last 24 h than their baseline predicts (velocity over baseline, smoothed against tiny counts).',
  requestCost: 'O(quota + recent actions): a walk down a precomputed ranked list of at most 2,000 items',
  snapshots: [trending],
  prepare: (rows) => rows.trending,
  generate({ user, quota }, { data }) {
    const exclude = engagedItems(user);
    const out: Candidate[] = [];
    for (const row of data) {
      if (out.length >= quota) break;
      if (exclude.has(row.item_id)) continue;
      out.push({
        itemId: row.item_id,
        score: row.score,
        reason: `trending: ${Math.round(row.recent)} engagement in 24 h vs ${row.expected.toFixed(1)} expected`,
      });
    }
    return out;
  },
});

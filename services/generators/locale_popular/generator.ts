import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { localePopular } from '../../../libs/data/batch/jobs/locale_popular.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'locale_popular',
  kind: 'heuristic',
  description:
    "What users of the viewer's locale engage with most: items of that locale first, then others popular with its users.",
  requestCost: 'O(quota + recent actions): a walk down one precomputed per-locale list (≤ 500 items)',
  snapshots: [localePopular],
  prepare: (rows) => new Map(rows.locale_popular.map((r) => [r.locale, r.items])),
  generate({ user, quota }, { data }) {
    const items = data.get(user.locale) ?? [];
    const exclude = engagedItems(user);
    const out: Candidate[] = [];
    for (const item of items) {
      if (out.length >= quota) break;
      if (exclude.has(item.item_id)) continue;
      out.push({
        itemId: item.item_id,
        score: item.score,
        reason: item.own ? `popular in ${user.locale}` : `popular with ${user.locale} users`,
      });
    }
    return out;
  },
});

import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import type { ScoredItem } from '../../../libs/data/batch/job.js';
import { hourPopular } from '../../../libs/data/batch/jobs/hour_popular.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

const HOUR_MS = 3_600_000;

interface HourData {
  byHour: Map<number, ScoredItem[]>;
  /** All hours summed: for a request without a clock. */
  allDay: ScoredItem[];
}

/** The UTC hour of day of a time in ms. */
export const utcHour = (ms: number) => Math.floor((((ms % 86_400_000) + 86_400_000) % 86_400_000) / HOUR_MS);

export default defineGenerator({
  name: 'hour_of_day_popular',
  kind: 'heuristic',
  description: 'Items popular at this hour of the day (UTC hour of the request time, neighbouring hours blended in).',
  requestCost: 'O(quota + recent actions): a walk down the precomputed list of the request hour (≤ 300 items)',
  snapshots: [hourPopular],
  prepare(rows): HourData {
    const list = rows.hour_popular;
    const total = new Map<string, number>();
    for (const row of list)
      for (const item of row.items) total.set(item.item_id, (total.get(item.item_id) ?? 0) + item.score);
    const allDay = [...total]
      .map(([item_id, score]) => ({ item_id, score }))
      .sort((a, b) => b.score - a.score || (a.item_id < b.item_id ? -1 : 1))
      .slice(0, 300);
    return { byHour: new Map(list.map((r) => [r.hour, r.items])), allDay };
  },
  generate({ user, quota }, { data }) {
    const hour = user.requestTimeMs ? utcHour(user.requestTimeMs) : undefined;
    const items = hour === undefined ? data.allDay : (data.byHour.get(hour) ?? []);
    const reason = hour === undefined ? 'popular all day' : `popular around ${String(hour).padStart(2, '0')}:00 UTC`;
    const exclude = engagedItems(user);
    const out: Candidate[] = [];
    for (const item of items) {
      if (out.length >= quota) break;
      if (!exclude.has(item.item_id)) out.push({ itemId: item.item_id, score: item.score, reason });
    }
    return out;
  },
});

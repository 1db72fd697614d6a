import { z } from 'zod';
import { exposure, type ExposureRow } from '../../../libs/data/batch/jobs/exposure.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

interface ExploreData {
  /** Under the exposure bound and above the quality floor, best quality first. */
  all: ExposureRow[];
  byTopic: Map<string, ExposureRow[]>;
}

export default defineGenerator({
  name: 'explore',
  kind: 'heuristic',
  description:
    "Under-exposed items (fewer than maxImpressions impressions) above a quality floor (smoothed engagement rate), the user's topics first: gives new and rarely shown good items a chance.",
  requestCost:
    "O((user topics + 1) × (quota + recent actions)): walks down precomputed per-topic lists and the global one, each stopping at quota (the global walk skips the user's topics, so at worst it reads the whole list, ≤ 2,000 per topic)",
  snapshots: [exposure],
  settings: z.object({
    /** Items with fewer impressions than this count as under-exposed (the snapshot holds < 30: a larger bound acts as 30). */
    maxImpressions: z.number().min(0).default(10),
    /** The quality floor: smoothed engagement rate relative to the catalog average (1 = average). */
    minQuality: z.number().min(0).default(1.0),
    /** Score factor of an item in one of the user's topics. */
    topicBoost: z.number().min(0).default(2),
  }),
  prepare(rows, settings): ExploreData {
    const { maxImpressions, minQuality } = settings;
    const all = rows.exposure
      .filter((r) => r.impressions < maxImpressions && r.quality >= minQuality)
      .sort((a, b) => b.quality - a.quality || (a.item_id < b.item_id ? -1 : 1));
    const byTopic = new Map<string, ExposureRow[]>();
    for (const row of all) {
      if (row.topic === null) continue;
      const list = byTopic.get(row.topic);
      if (list) list.push(row);
      else byTopic.set(row.topic, [row]);
    }
    return { all, byTopic };
  },
  generate({ user, quota }, { data, settings }) {
    const { topicBoost } = settings;
    const exclude = engagedItems(user);
    const board = new ScoreBoard();
    const walk = (
      list: ExposureRow[],
      factor: number,
      reason: string,
      skip: (row: ExposureRow) => boolean = () => false,
    ) => {
      let taken = 0;
      for (const row of list) {
        if (taken >= quota) break;
        if (exclude.has(row.item_id) || skip(row)) continue;
        board.add(row.item_id, row.quality * factor, reason);
        taken++;
      }
    };
    const topics = new Set(user.topics);
    for (const topic of topics) walk(data.byTopic.get(topic) ?? [], topicBoost, `rarely shown, good, in ${topic}`);
    // The global list: off-topic items only (on-topic ones were scored above).
    walk(data.all, 1, 'rarely shown, good', (row) => row.topic !== null && topics.has(row.topic));
    return board.top(quota);
  },
});

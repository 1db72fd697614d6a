import { defineGenerator, numberSetting } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

/** A row of the `exposure` snapshot (libs/data/batch/jobs/exposure.ts): items with < 30 impressions. */
interface ExposureRow {
  item_id: string;
  topic: string | null;
  impressions: number;
  /** Smoothed engagement rate relative to the catalog average (1 = average; creator prior for unproven items). */
  quality: number;
}

interface ExploreData {
  /** Under the exposure bound and above the quality floor, best quality first. */
  all: ExposureRow[];
  byTopic: Map<string, ExposureRow[]>;
}

export default defineGenerator<ExploreData>({
  name: 'explore',
  kind: 'heuristic',
  description: "Under-exposed items (fewer than maxImpressions impressions) above a quality floor (smoothed engagement rate), the user's topics first: gives new and rarely shown good items a chance.",
  requestCost: "O((user topics + 1) × (quota + recent actions)): walks down precomputed per-topic lists and the global one, each stopping at quota (the global walk skips the user's topics, so at worst it reads the whole list, ≤ 2,000 per topic)",
  snapshots: ['exposure'],
  prepare(rows, settings) {
    // The snapshot holds items with fewer than 30 impressions: a larger bound acts as 30.
    const maxImpressions = numberSetting(settings, 'maxImpressions', 10);
    const minQuality = numberSetting(settings, 'minQuality', 1.0);
    const all = (rows.exposure as ExposureRow[])
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
    const topicBoost = numberSetting(settings, 'topicBoost', 2);
    const exclude = engagedItems(user);
    const board = new ScoreBoard();
    const walk = (list: ExposureRow[], factor: number, reason: string, skip: (row: ExposureRow) => boolean = () => false) => {
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

import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { defineGenerator, numberSetting } from '../../../libs/generator-sdk/define.js';
import type { ScoredRow } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

/** A row of the `cold_start` snapshot (libs/data/batch/jobs/cold_start.ts); rows come heaviest topic first. */
interface ColdStartRow {
  topic: string;
  weight: number;
  /** Best first, diversified by creator. */
  items: ScoredRow[];
}

interface ColdStartData {
  byTopic: Map<string, ScoredRow[]>;
  /** Topics by total engagement, heaviest first. */
  topTopics: string[];
}

export default defineGenerator<ColdStartData>({
  name: 'cold_start',
  kind: 'heuristic',
  description: "Diverse top items over the user's onboarding topics (or the biggest topics), round-robin across topics: for users with thin or no history.",
  requestCost: 'O(quota + topics): a round-robin over precomputed per-topic lists',
  snapshots: ['cold_start'],
  prepare(rows) {
    const list = rows.cold_start as ColdStartRow[];
    return {
      byTopic: new Map(list.map((r) => [r.topic, r.items])),
      topTopics: [...list].sort((a, b) => b.weight - a.weight || (a.topic < b.topic ? -1 : 1)).map((r) => r.topic),
    };
  },
  generate({ user, quota }, { data, settings }) {
    const known = [...new Set(user.topics)].filter((t) => data.byTopic.has(t));
    const fallback = known.length === 0;
    const topics = fallback ? data.topTopics.slice(0, numberSetting(settings, 'fallbackTopics', 5)) : known;
    const lists = topics.map((topic) => ({ topic, items: data.byTopic.get(topic)! }));
    const exclude = engagedItems(user);
    const out: Candidate[] = [];
    const taken = new Set<string>();
    // Round-robin by depth: every topic gets its best item before any gets its second.
    for (let depth = 0; out.length < quota && lists.some((l) => depth < l.items.length); depth++) {
      for (const { topic, items } of lists) {
        const item = items[depth];
        if (!item || exclude.has(item.item_id) || taken.has(item.item_id)) continue;
        taken.add(item.item_id);
        out.push({ itemId: item.item_id, score: 1 / (1 + depth), reason: fallback ? `top in ${topic}` : `top in your topic ${topic}` });
        if (out.length >= quota) break;
      }
    }
    return out;
  },
});

import { z } from 'zod';
import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { coldStart } from '../../../libs/data/batch/jobs/cold_start.js';
import type { ScoredItem } from '../../../libs/data/batch/job.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

interface ColdStartData {
  byTopic: Map<string, ScoredItem[]>;
  /** Topics by total engagement, heaviest first. */
  topTopics: string[];
}

export default defineGenerator({
  name: 'cold_start',
  kind: 'heuristic',
  description:
    "Diverse top items over the user's onboarding topics (or the biggest topics), round-robin across topics: for users with thin or no history.",
  requestCost: 'O(quota + topics): a round-robin over precomputed per-topic lists',
  snapshots: [coldStart],
  settings: z.object({
    /** Topics used when the user has none the snapshot knows: the biggest ones. */
    fallbackTopics: z.number().int().min(1).default(5),
  }),
  prepare(rows): ColdStartData {
    const list = rows.cold_start;
    return {
      byTopic: new Map(list.map((r) => [r.topic, r.items])),
      topTopics: [...list].sort((a, b) => b.weight - a.weight || (a.topic < b.topic ? -1 : 1)).map((r) => r.topic),
    };
  },
  generate({ user, quota }, { data, settings }) {
    const known = [...new Set(user.topics)].filter((t) => data.byTopic.has(t));
    const fallback = known.length === 0;
    const topics = fallback ? data.topTopics.slice(0, settings.fallbackTopics) : known;
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
        out.push({
          itemId: item.item_id,
          score: 1 / (1 + depth),
          reason: fallback ? `top in ${topic}` : `top in your topic ${topic}`,
        });
        if (out.length >= quota) break;
      }
    }
    return out;
  },
});

import { z } from 'zod';
import type { ScoredItem } from '../../../libs/data/batch/job.js';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { topicPopular } from '../../../libs/data/batch/jobs/topic_popular.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../../../libs/generator-sdk/seeds.js';

interface TopicPopularData {
  byTopic: Map<string, ScoredItem[]>;
  topicOf: Map<string, string>;
}

/**
 * The user's topics with weights: 1 for each topic the context lists (declared at onboarding, plus
 * the ones the Events service saw them engage with), plus engagedWeight times the topic's share of
 * their recent clicks and saves (newer and saves count more), so what they engage with now leads.
 */
function topicWeights(
  user: Parameters<typeof engagementSeeds>[0],
  topicOf: (itemId: string) => string | undefined,
  engagedWeight: number,
): Map<string, number> {
  const weights = new Map<string, number>();
  for (const topic of user.topics) weights.set(topic, 1);
  const seeds = engagementSeeds(user, 100);
  const total = seeds.reduce((s, seed) => s + seed.weight, 0);
  for (const seed of seeds) {
    const topic = topicOf(seed.itemId);
    if (topic) weights.set(topic, (weights.get(topic) ?? 0) + (engagedWeight * seed.weight) / total);
  }
  return weights;
}

export default defineGenerator({
  name: 'topic_popular',
  kind: 'heuristic',
  description: "Popular items per topic, over the user's declared and engaged topics, interleaved by topic weight.",
  requestCost:
    'O(recent actions + user topics × min(quota, 300)), plus sorting that many: per-topic precomputed lists merged by weight / (1 + rank)',
  snapshots: [topicPopular, itemMeta],
  settings: z.object({
    /** Weight of the topics of the user's recent clicks and saves, against 1 for each listed topic. */
    engagedWeight: z.number().min(0).default(5),
  }),
  prepare: (rows): TopicPopularData => ({
    byTopic: new Map(rows.topic_popular.map((r) => [r.topic, r.items])),
    topicOf: new Map(rows.item_meta.filter((r) => r.topic !== null).map((r) => [r.item_id, r.topic!])),
  }),
  generate({ user, quota }, { data, settings }) {
    const weights = topicWeights(user, (id) => data.topicOf.get(id), settings.engagedWeight);
    const exclude = engagedItems(user);
    const board = new ScoreBoard();
    // weight / (1 + rank): a topic of twice the weight gets about twice the slots at every depth.
    for (const [topic, weight] of weights) {
      let rank = 0;
      for (const row of data.byTopic.get(topic) ?? []) {
        if (rank >= quota) break;
        if (exclude.has(row.item_id)) continue;
        board.add(row.item_id, weight / (1 + rank), `popular in ${topic}`);
        rank++;
      }
    }
    return board.top(quota);
  },
});

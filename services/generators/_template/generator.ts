// A new candidate generator. `make new-generator NAME=... KIND=...` copies this folder and
// registers it in config/mesh.json; it serves and passes its test as it is. Then make it yours:
// name the snapshots you read (their batch jobs, libs/data/batch/jobs, type the rows), declare
// your settings, build lookups once in `prepare`, keep `generate` cheap.
import { z } from 'zod';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { popularity } from '../../../libs/data/batch/jobs/popularity.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'template_example',
  kind: 'heuristic',
  description: "Popular items, boosted when their topic is one of the user's topics.",
  requestCost: 'O(top × 1): one pass over the top of a precomputed ranked list',
  snapshots: [popularity, itemMeta],
  // `generators[i].settings` in config/mesh.json, checked at start-up: a wrong type or an unknown key stops it.
  settings: z.object({
    /** Score factor of an item in one of the user's topics. */
    topicBoost: z.number().min(1).default(2),
  }),
  prepare: (rows) => ({
    popular: rows.popularity.slice(0, 2_000),
    topicOf: new Map(rows.item_meta.map((r) => [r.item_id, r.topic])),
  }),
  generate({ user, quota }, { data, settings }) {
    const topics = new Set(user.topics);
    const board = new ScoreBoard();
    for (const row of data.popular) {
      const onTopic = topics.has(data.topicOf.get(row.item_id) ?? '');
      board.add(
        row.item_id,
        row.score * (onTopic ? settings.topicBoost : 1),
        onTopic ? 'popular in your topics' : 'popular now',
      );
    }
    return board.top(quota, engagedItems(user));
  },
});

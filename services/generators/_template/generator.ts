// A new candidate generator. `make new-generator NAME=... KIND=...` copies this folder and
// registers it in config/mesh.json; it serves and passes its test as it is. Then make it yours:
// declare the snapshots you read, build lookups once in `prepare`, keep `generate` cheap.
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard, type ScoredRow } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

interface ItemMetaRow {
  item_id: string;
  topic: string | null;
}

export default defineGenerator({
  name: 'template_example',
  kind: 'heuristic',
  description: 'Popular items, boosted when their topic is one of the user\'s topics.',
  requestCost: 'O(top × 1): one pass over the top of a precomputed ranked list',
  snapshots: ['popularity', 'item_meta'],
  prepare: (rows) => ({
    popular: (rows.popularity as ScoredRow[]).slice(0, 2_000),
    topicOf: new Map((rows.item_meta as ItemMetaRow[]).map((r) => [r.item_id, r.topic])),
  }),
  generate({ user, quota }, { data }) {
    const topics = new Set(user.topics);
    const board = new ScoreBoard();
    for (const row of data.popular) {
      const onTopic = topics.has(data.topicOf.get(row.item_id) ?? '');
      board.add(row.item_id, row.score * (onTopic ? 2 : 1), onTopic ? 'popular in your topics' : 'popular now');
    }
    return board.top(quota, engagedItems(user));
  },
});

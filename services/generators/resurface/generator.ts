import { ActionType } from '../../../generated/feedloom/v1/common.js';
import { z } from 'zod';
import { resurfaceBoards } from '../../../libs/data/batch/jobs/resurface_boards.js';
import { IdListsBuilder, type IdLists } from '../../../libs/columns/id-lists.js';
import { SharedIdsBuilder } from '../../../libs/columns/shared-ids.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

interface ResurfaceData {
  /** Per board, off the JS heap (one id table): its items, newest first; similar boards; its topic (0 or 1). */
  items: IdLists;
  similar: IdLists;
  topic: IdLists;
  /** Per topic: the items most boards of that topic hold, with their share of the best one's count, best first. */
  topicItems: Map<string, { item_id: string; share: number }[]>;
}

const TOPIC_ITEMS = 50;

export default defineGenerator({
  name: 'resurface',
  kind: 'heuristic',
  description:
    "Items from the neighbourhood of the user's own boards (on similar boards, or common on boards of the same topic) that they have not saved or engaged with lately.",
  requestCost:
    "O(own boards × (20 similar boards × itemsPerBoard (30) + 50) + items on the user's own boards), plus sorting: a weighted sum over precomputed board neighbourhoods",
  snapshots: [resurfaceBoards],
  settings: z.object({
    /** The newest items taken from each similar board. */
    itemsPerBoard: z.number().int().min(1).default(30),
    /** Weight of the items common on boards of the same topic, against those on similar boards. */
    topicWeight: z.number().min(0).default(0.3),
  }),
  prepare(rows): ResurfaceData {
    const list = rows.resurface_boards;
    const counts = new Map<string, Map<string, number>>();
    for (const row of list) {
      if (row.topic === null) continue;
      let topic = counts.get(row.topic);
      if (!topic) counts.set(row.topic, (topic = new Map()));
      for (const item of row.items) topic.set(item, (topic.get(item) ?? 0) + 1);
    }
    const topicItems = new Map<string, { item_id: string; share: number }[]>();
    for (const [topic, items] of counts) {
      const top = [...items].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOPIC_ITEMS);
      topicItems.set(
        topic,
        top.map(([item_id, n]) => ({ item_id, share: n / top[0][1] })),
      );
    }
    const table = new SharedIdsBuilder();
    const items = new IdListsBuilder(table, false);
    const similar = new IdListsBuilder(table, true);
    const topic = new IdListsBuilder(table, false);
    for (const r of list) {
      items.set(r.board_id, r.items);
      similar.set(
        r.board_id,
        r.similar_boards.map((s) => s.board_id),
        r.similar_boards.map((s) => s.score),
      );
      topic.set(r.board_id, r.topic === null ? [] : [r.topic]);
    }
    const ids = table.finish();
    return { items: items.finish(ids), similar: similar.finish(ids), topic: topic.finish(ids), topicItems };
  },
  enable: (user) => user.ownBoards.length > 0,
  generate({ user, quota }, { data, settings }) {
    const own = [...new Set(user.ownBoards)].filter((id) => data.items.has(id));
    if (own.length === 0) return [];
    const { itemsPerBoard: perBoard, topicWeight } = settings;
    // Already on one of their boards, or engaged with lately: nothing to resurface.
    const engaged = engagedItems(user);
    const onOwnBoards = new Set<string>();
    for (const board of own) {
      const items = data.items.list(board);
      for (let i = 0; i < items.length; i++) onOwnBoards.add(items.id(i));
    }
    const exclude = { has: (item: string) => onOwnBoards.has(item) || engaged.has(item) };
    // Boards they are saving to now weigh more.
    const recentSaves = new Map<string, number>();
    for (const a of user.recentActions) {
      if (a.type === ActionType.ACTION_TYPE_SAVE && a.boardId)
        recentSaves.set(a.boardId, (recentSaves.get(a.boardId) ?? 0) + 1);
    }
    const scores = new ScoreBoard();
    for (const board of own) {
      const weight = 1 + Math.log1p(recentSaves.get(board) ?? 0);
      const similar = data.similar.list(board);
      for (let s = 0; s < similar.length; s++) {
        const items = data.items.at(similar.node(s));
        const reason = `on ${similar.id(s)}, like your board ${board}`;
        for (let i = 0; i < items.length && i < perBoard; i++)
          scores.add(items.id(i), weight * similar.score(s), reason);
      }
      const topic = data.topic.list(board);
      const name = topic.length ? topic.id(0) : null;
      for (const { item_id, share } of data.topicItems.get(name ?? '') ?? []) {
        scores.add(item_id, weight * topicWeight * share, `common on ${name} boards, like your board ${board}`);
      }
    }
    return scores.top(quota, exclude);
  },
});

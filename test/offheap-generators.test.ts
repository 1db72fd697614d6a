// The generators whose snapshots moved off the JS heap (libs/columns) answer exactly as their
// Map-of-rows forms did: each old form is kept here, as it was on main, and both are asked the
// same requests of real users of the tiny world, scores compared as numbers (not through protobuf's float).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Candidate, UserContext } from '../generated/feedloom/v1/common.js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import type { ScoredItem } from '../libs/data/batch/job.js';
import type { ResurfaceBoardRow } from '../libs/data/batch/jobs/resurface_boards.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { parseGeneratorSettings, type GeneratorModule } from '../libs/generator-sdk/define.js';
import { ScoreBoard } from '../libs/generator-sdk/ranked-list.js';
import { engagedItems, engagementSeeds } from '../libs/generator-sdk/seeds.js';
import { lastEngaged } from '../services/generators/session_next/generator.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { activeUsers, startTestEvents } from './fixtures/events.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';

type Rows = Record<string, any[]>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Settings = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The old form of a generator: its prepare and generate as they were before the move. */
interface OldForm {
  prepare(rows: Rows): unknown;
  generate(user: UserContext, quota: number, data: any, settings: Settings): Candidate[]; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const byKey = (rows: any[], key: string, list: string) => new Map(rows.map((r) => [r[key], r[list]])); // eslint-disable-line @typescript-eslint/no-explicit-any

const OLD: Record<string, OldForm> = {
  item_cooccurrence: {
    prepare: (rows) => byKey(rows.cooccurrence, 'item_id', 'neighbors'),
    generate(user, quota, data: Map<string, ScoredItem[]>, settings) {
      const board = new ScoreBoard();
      for (const seed of engagementSeeds(user, settings.maxSeeds))
        for (const n of data.get(seed.itemId) ?? [])
          board.add(n.item_id, seed.weight * n.score, `co-engaged with ${seed.itemId}`);
      return board.top(quota, engagedItems(user));
    },
  },
  ease: {
    prepare: (rows) => byKey(rows.ease_neighbors, 'item_id', 'neighbors'),
    generate(user, quota, data: Map<string, ScoredItem[]>, settings) {
      const board = new ScoreBoard();
      for (const { itemId } of engagementSeeds(user, settings.maxSeeds))
        for (const n of data.get(itemId) ?? []) board.add(n.item_id, n.score, `EASE: goes with ${itemId}`);
      return board.top(quota, engagedItems(user));
    },
  },
  session_next: {
    prepare: (rows) => byKey(rows.session_transitions, 'item_id', 'next'),
    generate(user, quota, data: Map<string, ScoredItem[]>, settings) {
      const board = new ScoreBoard();
      lastEngaged(user, settings.lastItems).forEach((itemId, position) => {
        const next = data.get(itemId) ?? [];
        const weight = settings.positionDecay ** position / (next[0]?.score || 1);
        for (const n of next) board.add(n.item_id, weight * n.score, `often engaged next after ${itemId}`);
      });
      return board.top(quota, engagedItems(user));
    },
  },
  user_cf: {
    prepare: (rows) => ({
      neighbors: byKey(rows.user_neighbors, 'user_id', 'neighbors'),
      recent: byKey(rows.user_recent_items, 'user_id', 'items'),
    }),
    generate(user, quota, data, settings) {
      const board = new ScoreBoard();
      const neighbors: { user_id: string; score: number }[] = (data.neighbors.get(user.userId) ?? []).slice(
        0,
        settings.maxNeighbors,
      );
      for (const n of neighbors)
        for (const item of (data.recent.get(n.user_id) ?? []) as ScoredItem[])
          board.add(item.item_id, n.score * item.score, `engaged by similar user ${n.user_id}`);
      return board.top(quota, engagedItems(user));
    },
  },
  followed_boards: {
    prepare: (rows) => ({
      byBoard: byKey(rows.followed_board_items, 'board_id', 'items'),
      newestMs: rows.followed_board_items.reduce((max, r) => Math.max(max, r.items[0]?.added_ms ?? 0), 0),
    }),
    generate(user, quota, data, settings) {
      const now = user.requestTimeMs || data.newestMs;
      const halfLifeMs = settings.halfLifeDays * 86_400_000;
      const exclude = engagedItems(user);
      const newest = new Map<string, { score: number; reason: string }>();
      for (const boardId of new Set(user.followedBoards)) {
        for (const item of (data.byBoard.get(boardId) ?? []) as { item_id: string; added_ms: number }[]) {
          if (item.added_ms > now || exclude.has(item.item_id)) continue;
          const score = 0.5 ** ((now - item.added_ms) / halfLifeMs);
          if (score > (newest.get(item.item_id)?.score ?? -1))
            newest.set(item.item_id, { score, reason: `added to followed board ${boardId}` });
        }
      }
      const board = new ScoreBoard();
      for (const [itemId, { score, reason }] of newest) board.add(itemId, score, reason);
      return board.top(quota);
    },
  },
  followed_creators: {
    prepare: (rows) => byKey(rows.creator_items, 'creator_id', 'items'),
    generate(user, quota, data: Map<string, ScoredItem[]>) {
      const exclude = engagedItems(user);
      const lists = user.followedCreators.map((creator) => ({ creator, items: data.get(creator) ?? [] }));
      const out: Candidate[] = [];
      for (let depth = 0; out.length < quota && lists.some((l) => depth < l.items.length); depth++) {
        for (const { creator, items } of lists) {
          const item = items[depth];
          if (!item || exclude.has(item.item_id)) continue;
          out.push({ itemId: item.item_id, score: 1 / (1 + depth), reason: `by followed creator ${creator}` });
          if (out.length >= quota) break;
        }
      }
      return out;
    },
  },
  creator_ppr: {
    // The PPR graph is unchanged (typed arrays already); only the creators' item lists moved.
    prepare: (rows) => byKey(rows.creator_items, 'creator_id', 'items'),
    generate(user, quota, creatorItems: Map<string, ScoredItem[]>, settings) {
      const { graph, ppr } = settings.typed;
      const users = graph.left.size;
      const seeds: { node: number; weight: number }[] = [];
      const me = graph.left.get(user.userId);
      if (me !== undefined) seeds.push({ node: me, weight: 1 });
      for (const creator of new Set(user.followedCreators)) {
        const c = graph.right.get(creator);
        if (c !== undefined) seeds.push({ node: users + c, weight: 1 });
      }
      if (seeds.length === 0) return [];
      const { estimate } = ppr.run(seeds, settings);
      const creators: { id: string; score: number }[] = [];
      for (const v of estimate.touched()) {
        if (v < users || estimate.get(v) <= 0) continue;
        creators.push({
          id: graph.right.name(v - users),
          score: estimate.get(v) / Math.max(1e-9, ppr.strength[v]) ** settings.degreeNormalization,
        });
      }
      creators.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
      const board = new ScoreBoard();
      for (const { id, score } of creators.slice(0, settings.topCreators)) {
        const items = creatorItems.get(id) ?? [];
        const best = items[0]?.score || 1;
        for (const item of items)
          board.add(item.item_id, score * (item.score / best), `by ${id}, close to creators you follow`);
      }
      return board.top(quota, engagedItems(user));
    },
  },
  resurface: {
    // The old prepare's topic counts are unchanged in the new form; only the board rows moved.
    prepare: (rows) => new Map((rows.resurface_boards as ResurfaceBoardRow[]).map((r) => [r.board_id, r])),
    generate(user, quota, boards: Map<string, ResurfaceBoardRow>, settings) {
      const topicItems: Map<string, { item_id: string; share: number }[]> = settings.topicItems;
      const own = [...new Set(user.ownBoards)]
        .map((id) => boards.get(id))
        .filter((b): b is ResurfaceBoardRow => b !== undefined);
      if (own.length === 0) return [];
      const engaged = engagedItems(user);
      const onOwnBoards = new Set(own.flatMap((board) => board.items));
      const exclude = { has: (item: string) => onOwnBoards.has(item) || engaged.has(item) };
      const recentSaves = new Map<string, number>();
      for (const a of user.recentActions)
        if (a.type === ActionType.ACTION_TYPE_SAVE && a.boardId)
          recentSaves.set(a.boardId, (recentSaves.get(a.boardId) ?? 0) + 1);
      const scores = new ScoreBoard();
      for (const board of own) {
        const weight = 1 + Math.log1p(recentSaves.get(board.board_id) ?? 0);
        for (const similar of board.similar_boards) {
          const items = boards.get(similar.board_id)?.items ?? [];
          for (let i = 0; i < items.length && i < settings.itemsPerBoard; i++)
            scores.add(items[i], weight * similar.score, `on ${similar.board_id}, like your board ${board.board_id}`);
        }
        for (const { item_id, share } of topicItems.get(board.topic ?? '') ?? [])
          scores.add(
            item_id,
            weight * settings.topicWeight * share,
            `common on ${board.topic} boards, like your board ${board.board_id}`,
          );
      }
      return scores.top(quota, exclude);
    },
  },
};

describe('generators with snapshots off the JS heap answer as their old forms did', () => {
  let world: string;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: UserContext[];

  beforeAll(async () => {
    world = await testWorld();
    events = await startTestEvents(world);
    const ids = await activeUsers(world, 60);
    // The most active users, and some with little or no history (empty lists, unknown keys).
    users = await Promise.all([...ids, 'nobody', ids.at(-1)!].map((id) => events.context(id)));
  }, 60_000);
  afterAll(() => events?.stop());

  for (const name of Object.keys(OLD)) {
    it(name, async () => {
      const module: GeneratorModule<any> = await loadGeneratorModule(name); // eslint-disable-line @typescript-eslint/no-explicit-any
      const settings = parseGeneratorSettings(module, {});
      const rows: Rows = {};
      for (const s of module.snapshots) rows[s.name] = (await readSnapshot(snapshotsOf(world), s.name)).rows;
      const typed = module.prepare!(rows as never, settings);
      const old = OLD[name];
      const oldData = old.prepare(rows);
      // What the old forms share with the new (unchanged parts) comes from the typed data.
      const oldSettings = { ...settings, topicItems: typed.topicItems, typed };
      const signal = new AbortController().signal;
      let answered = 0;
      for (const user of users) {
        for (const quota of [10, 200]) {
          const now = await module.generate({ user, quota, requestId: 't' }, { data: typed, settings, signal });
          expect(now, `${name} for ${user.userId} at quota ${quota}`).toEqual(
            old.generate(user, quota, oldData, oldSettings),
          );
          if (Array.isArray(now) && now.length > 0) answered++;
        }
      }
      // Most of these users get candidates: the comparison is not between two empty answers.
      expect(answered).toBeGreaterThan(users.length / 2);
    });
  }
});

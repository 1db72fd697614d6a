// Personalized PageRank on the user–creator graph (follows, repeated engagement, creator accounts),
// pushed from the creators the user follows and from the user's own node: creators that the
// user's creators' audiences also follow come out on top; their best recent items are proposed.
import { z } from 'zod';
import { creatorItems } from '../../../libs/data/batch/jobs/creator_items.js';
import { followGraph } from '../../../libs/data/batch/jobs/follow_graph.js';
import type { RowsOf } from '../../../libs/data/snapshots.js';
import { scoredItemLists, type IdLists } from '../../../libs/columns/id-lists.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { bipartiteFromRows, type BipartiteGraph } from '../../../libs/graph/bipartite.js';
import { PushPpr, undirectedFromBipartite, type PprSeed } from '../../../libs/graph/ppr.js';

const SNAPSHOTS = [followGraph, creatorItems] as const;

interface PreparedGraph {
  /** Users on the left (node u), creators on the right (node users + c). */
  graph: BipartiteGraph;
  ppr: PushPpr;
  /** Per creator, off the JS heap: its best recent items. */
  creatorItems: IdLists;
}

function prepare(rows: RowsOf<typeof SNAPSHOTS>): PreparedGraph {
  const graph = bipartiteFromRows(
    rows.follow_graph.map((r) => ({
      left: r.user_id,
      right: r.creators.map((c) => c.creator_id),
      weights: r.creators.map((c) => c.weight),
    })),
  );
  return {
    graph,
    ppr: new PushPpr(undirectedFromBipartite(graph)),
    creatorItems: scoredItemLists(
      rows.creator_items,
      (r) => r.creator_id,
      (r) => r.items,
    ),
  };
}

export default defineGenerator({
  name: 'creator_ppr',
  kind: 'graph',
  description:
    "Best recent items of the creators closest to the user's followed creators by personalized PageRank on the follow graph.",
  requestCost:
    "forward-push PPR: ≤ maxPushes (20,000) pushes, each over one node's edges (ε = 1e-5 usually stops it sooner); + O(topCreators (30) × 100 items)",
  snapshots: SNAPSHOTS,
  settings: z.object({
    /** Teleport probability of the personalized PageRank. */
    alpha: z.number().gt(0).max(1).default(0.3),
    /** Forward push stops when no residual is above this (per unit of degree). */
    epsilon: z.number().positive().default(1e-5),
    maxPushes: z.number().int().min(1).default(20_000),
    /** PPR divided by strength^this: 0 is raw PPR, which favours well-connected creators. */
    degreeNormalization: z.number().min(0).default(0.5),
    /** Creators whose items are proposed, closest first. */
    topCreators: z.number().int().min(1).default(30),
  }),
  prepare,
  generate({ user, quota }, { data, settings }) {
    const { graph, ppr, creatorItems } = data;
    const { strength } = ppr;
    const users = graph.left.size;
    const seeds: PprSeed[] = [];
    const me = graph.left.get(user.userId);
    if (me !== undefined) seeds.push({ node: me, weight: 1 });
    for (const creator of new Set(user.followedCreators)) {
      const c = graph.right.get(creator);
      if (c !== undefined) seeds.push({ node: users + c, weight: 1 });
    }
    if (seeds.length === 0) return [];
    const { estimate } = ppr.run(seeds, {
      alpha: settings.alpha,
      epsilon: settings.epsilon,
      maxPushes: settings.maxPushes,
    });
    // PPR favours well-connected creators; dividing by strength^β tempers that (β = 0: raw PPR).
    const beta = settings.degreeNormalization;
    const creators: { id: string; score: number }[] = [];
    for (const v of estimate.touched()) {
      if (v < users || estimate.get(v) <= 0) continue;
      creators.push({ id: graph.right.name(v - users), score: estimate.get(v) / Math.max(1e-9, strength[v]) ** beta });
    }
    creators.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    const board = new ScoreBoard();
    for (const { id, score } of creators.slice(0, settings.topCreators)) {
      const items = creatorItems.list(id);
      const best = (items.length && items.score(0)) || 1;
      for (let k = 0; k < items.length; k++)
        board.add(items.id(k), score * (items.score(k) / best), `by ${id}, close to creators you follow`);
    }
    return board.top(quota, engagedItems(user));
  },
});

import { z } from 'zod';
import { curatorSaves } from '../../../libs/data/batch/jobs/curator_saves.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'followed_curators',
  kind: 'graph',
  description: 'Recent saves of the creators the user follows (what they pin with their own accounts), newest first.',
  requestCost: 'O(followed creators × 100 saves)',
  snapshots: [curatorSaves],
  settings: z.object({
    /** A save's weight halves every this many days. */
    halfLifeDays: z.number().positive().default(7),
  }),
  prepare: (rows) => new Map(rows.curator_saves.map((r) => [r.creator_id, r.items])),
  enable: (user) => user.followedCreators.length > 0,
  generate({ user, quota }, { data, settings }) {
    const curators = [...new Set(user.followedCreators)].map((creator) => ({
      creator,
      saves: data.get(creator) ?? [],
    }));
    // The request's clock; without one, the newest of these saves (lists are newest first).
    const now = user.requestTimeMs || Math.max(0, ...curators.map((c) => c.saves[0]?.time_ms ?? 0));
    const halfLifeMs = settings.halfLifeDays * 86_400_000;
    const board = new ScoreBoard();
    for (const { creator, saves } of curators) {
      saves.forEach((save, depth) => {
        // Recent first, and a curator's n-th save damped by √(1 + n) so one prolific curator does
        // not fill the list; an item saved by several followed curators adds up.
        const recency = 0.5 ** (Math.max(0, now - save.time_ms) / halfLifeMs);
        board.add(save.item_id, recency / Math.sqrt(1 + depth), `saved by ${creator}, whom you follow`);
      });
    }
    return board.top(quota, engagedItems(user));
  },
});

import { z } from 'zod';
import { Ease, EASE_MAX_ITEMS } from '../../../cf/ease.js';
import { buildInteractions } from '../../../cf/interactions.js';
import { defineBatchJob, type ScoredItem } from '../job.js';

/** A row of `ease_neighbors`: an item and the items its presence scores up most under EASE, best first. */
export interface EaseNeighborsRow {
  item_id: string;
  /** score: the weight B[item_id][neighbour], > 0. */
  neighbors: ScoredItem[];
}

/** Engagement, as the eval's baselines count it: who clicked or saved what, each pair once. */
const ENGAGED = `SELECT DISTINCT user_id, item_id FROM events WHERE action IN ('click', 'save')`;

/**
 * EASE (libs/cf/ease.ts) fitted on the binary user × item matrix of clicks and saves, the whole log
 * up to asOfMs, restricted to the `maxItems` items with the most engaged users (ties by item id);
 * each row of B pruned to its `neighbors` largest positive weights. Items outside those have no
 * row and are no one's neighbour: the dense fit is n² memory and n³ time, so a large catalog is
 * served on its head (one note says so) rather than not at all.
 */
export const easeNeighbors = defineBatchJob<EaseNeighborsRow>()({
  name: 'ease_neighbors',
  description:
    'EASE (closed-form item–item ridge regression) on who clicked/saved what, over the 5,000 most engaged items; per item its top 100 positive weights',
  settings: z.object({
    /**
     * The L2 penalty. 500: what the eval picked on the MovieLens-100k-like import (1.6k items, 100k
     * ratings) and Steck's pick on ML-20M; the published optima (MSD 200, Netflix 1000) do not follow
     * the data's size, so it is a setting, not a formula. `feedloom eval` on a world prints the best λ there.
     */
    lambda: z.number().positive().default(500),
    /** Neighbours kept per item (the largest positive weights of its row of B). */
    neighbors: z.number().int().min(1).max(1_000).default(100),
    /**
     * The most engaged items fitted (at most EASE's dense limit); the rest have no neighbours. The
     * solve grows as n³ and B as n² doubles (200 MB at 5k); see libs/data/batch/README.md for times.
     */
    maxItems: z.number().int().min(1).max(EASE_MAX_ITEMS).default(5_000),
  }),
  async compute({ query, settings, note }) {
    const [{ items }] = await query<{ items: number }>(`SELECT count(DISTINCT item_id) AS items FROM (${ENGAGED})`);
    if (items > settings.maxItems)
      note(
        `fitted on the ${settings.maxItems.toLocaleString('en-US')} most engaged of ${items.toLocaleString('en-US')} items with clicks or saves (batch.ease_neighbors.maxItems); the others have no neighbours`,
      );
    const pairs = await query<{ user_id: string; item_id: string }>(
      `WITH engaged AS (${ENGAGED}),
            head AS (SELECT item_id FROM engaged GROUP BY item_id ORDER BY count(*) DESC, item_id LIMIT ${settings.maxItems})
       SELECT user_id, item_id FROM engaged WHERE item_id IN (SELECT item_id FROM head) ORDER BY user_id, item_id`,
    );
    const m = buildInteractions(pairs.map((p) => [p.user_id, p.item_id] as const));
    const ease = await Ease.fit(m, settings.lambda);
    const rows: EaseNeighborsRow[] = [];
    m.items.forEach((item_id, i) => {
      const neighbors = ease.neighbors(i, settings.neighbors).map((n) => ({
        item_id: m.items[n.item],
        // Six significant digits: the weights span orders of magnitude, and JSON digits add up.
        score: Number(n.weight.toPrecision(6)),
      }));
      if (neighbors.length) rows.push({ item_id, neighbors });
    });
    return rows.sort((a, b) => (a.item_id < b.item_id ? -1 : 1));
  },
});

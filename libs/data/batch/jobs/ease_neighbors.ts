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
const ENGAGED = `FROM events WHERE action IN ('click', 'save')`;

/**
 * EASE (libs/cf/ease.ts) fitted on the binary user × item matrix of clicks and saves, the whole log
 * up to asOfMs; each row of B pruned to its `neighbors` largest positive weights. The dense fit is
 * n² memory and ~n³ time in the number n of engaged items, so above `maxItems` the snapshot is empty
 * and the run says why (one note), rather than taking hours.
 */
export const easeNeighbors = defineBatchJob<EaseNeighborsRow>()({
  name: 'ease_neighbors',
  description:
    'EASE (closed-form item–item ridge regression) on who clicked/saved what; per item its top 100 positive weights; empty above 5,000 engaged items',
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
     * Most engaged items to fit (at most EASE's dense limit). The fit grows as n³: measured on a
     * shared 2-core machine, 5 s at 1.7k items (the MovieLens-like import), 2 min at 5k, so about
     * 2 h at 20k.
     */
    maxItems: z.number().int().min(1).max(EASE_MAX_ITEMS).default(5_000),
  }),
  async compute({ query, settings, note }) {
    const [{ items }] = await query<{ items: number }>(`SELECT count(DISTINCT item_id) AS items ${ENGAGED}`);
    if (items > settings.maxItems) {
      note(
        `empty snapshot: ${items.toLocaleString('en-US')} items have clicks or saves, above maxItems ${settings.maxItems.toLocaleString('en-US')} (batch.ease_neighbors.maxItems; a dense fit costs n² memory and ~n³ time, at most ${EASE_MAX_ITEMS.toLocaleString('en-US')} items)`,
      );
      return [];
    }
    const pairs = await query<{ user_id: string; item_id: string }>(
      `SELECT DISTINCT user_id, item_id ${ENGAGED} ORDER BY user_id, item_id`,
    );
    const m = buildInteractions(pairs.map((p) => [p.user_id, p.item_id] as const));
    const ease = Ease.fit(m, settings.lambda);
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

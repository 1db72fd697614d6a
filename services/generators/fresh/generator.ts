import { z } from 'zod';
import { freshItems, type FreshItemRow } from '../../../libs/data/batch/jobs/fresh_items.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

const DAY_MS = 86_400_000;
/**
 * The default bar: 80% of the catalog's average engagement rate. New items are shown mostly to
 * audiences that have not chosen them, so their rates sit below the catalog's (which popular items
 * dominate); 0.8 keeps roughly the better half of them.
 */
export const DEFAULT_MIN_QUALITY = 0.8;

interface FreshData {
  /** Per topic, items above the quality bar, best first. */
  byTopic: Map<string, FreshItemRow[]>;
  /** Every item above the bar, best first: for users without topics. */
  all: FreshItemRow[];
  /** The newest creation time: the clock when a request carries none. */
  newestMs: number;
}

export default defineGenerator({
  name: 'fresh',
  kind: 'heuristic',
  description:
    "Items created within windowDays (default 2) before the request time, above a quality bar (smoothed engagement rate ≥ minQuality, default 0.8 × the catalog average), in the user's topics.",
  requestCost:
    "O(fresh items in the user's topics): a filtered walk over per-topic lists of items from the last 7 days (≤ 1,000 per topic)",
  snapshots: [freshItems],
  settings: z.object({
    /** How new an item must be, in days before the request time (the snapshot holds FRESH_MAX_DAYS: a longer window acts as that). */
    windowDays: z.number().positive().default(2),
    /** The quality bar: smoothed engagement rate relative to the catalog average. */
    minQuality: z.number().min(0).default(DEFAULT_MIN_QUALITY),
  }),
  prepare(rows, settings): FreshData {
    const { minQuality } = settings;
    const all = rows.fresh_items
      .filter((r) => r.quality >= minQuality)
      .sort((a, b) => b.quality - a.quality || (a.item_id < b.item_id ? -1 : 1));
    const byTopic = new Map<string, FreshItemRow[]>();
    for (const row of all) {
      if (row.topic === null) continue;
      const list = byTopic.get(row.topic);
      if (list) list.push(row);
      else byTopic.set(row.topic, [row]);
    }
    return { byTopic, all, newestMs: all.reduce((max, r) => Math.max(max, r.created_ms), 0) };
  },
  generate({ user, quota }, { data, settings }) {
    const now = user.requestTimeMs || data.newestMs;
    const from = now - settings.windowDays * DAY_MS;
    const exclude = engagedItems(user);
    const topics = user.topics.length > 0 ? [...new Set(user.topics)] : undefined;
    const lists: [string, FreshItemRow[]][] = topics
      ? topics.map((t) => [`new in ${t}`, data.byTopic.get(t) ?? []])
      : [['new', data.all]];
    const board = new ScoreBoard();
    for (const [reason, list] of lists) {
      let taken = 0;
      for (const row of list) {
        if (taken >= quota) break; // each list is best first: deeper rows cannot make the top quota
        if (row.created_ms < from || row.created_ms > now || exclude.has(row.item_id)) continue;
        board.add(row.item_id, row.quality, reason);
        taken++;
      }
    }
    return board.top(quota);
  },
});

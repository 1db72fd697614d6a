import type { Candidate } from '../../generated/feedloom/v1/common.js';
import type { ScoredItem } from '../data/batch/job.js';
import { selectTop } from '../top-k/top-k.js';
import type { ItemExclusion } from './seeds.js';

/** The first `quota` rows of a ranked list that the user has not engaged with yet. */
export function takeUnseen(
  rows: readonly ScoredItem[],
  exclude: ItemExclusion,
  quota: number,
  reason: string,
): Candidate[] {
  const out: Candidate[] = [];
  for (const row of rows) {
    if (out.length >= quota) break;
    if (!exclude.has(row.item_id)) out.push({ itemId: row.item_id, score: row.score, reason });
  }
  return out;
}

/** Adds weighted scores per item: the core of every "sum over seeds" generator. */
export class ScoreBoard {
  private readonly scores = new Map<string, Candidate>();

  add(itemId: string, score: number, reason: string): void {
    const entry = this.scores.get(itemId);
    if (entry) entry.score += score;
    else this.scores.set(itemId, { itemId, score, reason });
  }

  /**
   * Best first, ties broken by id so answers are repeatable. A bounded heap: boards run to thousands
   * of items. `exclude` (a Bloom filter lookup per id) is asked first only of the best 2 × quota
   * items, and of every item only when that left fewer than quota.
   */
  top(quota: number, exclude: ItemExclusion = new Set<string>()): Candidate[] {
    const worse = (a: Candidate, b: Candidate) => a.score < b.score || (a.score === b.score && a.itemId > b.itemId);
    const best = selectTop(this.scores.values(), 2 * quota, worse);
    const kept = best.filter((c) => !exclude.has(c.itemId));
    const enough = kept.length >= quota || best.length === this.scores.size;
    const top = enough
      ? kept.slice(0, quota)
      : selectTop(
          [...this.scores.values()].filter((c) => !exclude.has(c.itemId)),
          quota,
          worse,
        );
    // Copies: the board's entries are its own, and may be added to after this.
    return top.map(({ itemId, score, reason }) => ({ itemId, score, reason }));
  }
}

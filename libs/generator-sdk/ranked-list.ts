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
  private readonly scores = new Map<string, { score: number; reason: string }>();

  add(itemId: string, score: number, reason: string): void {
    const entry = this.scores.get(itemId);
    if (entry) entry.score += score;
    else this.scores.set(itemId, { score, reason });
  }

  /** Best first, ties broken by id so answers are repeatable. A bounded heap: boards run to thousands of items. */
  top(quota: number, exclude: ItemExclusion = new Set<string>()): Candidate[] {
    const eligible: [string, { score: number; reason: string }][] = [];
    for (const entry of this.scores) if (!exclude.has(entry[0])) eligible.push(entry);
    const worse = (a: (typeof eligible)[number], b: (typeof eligible)[number]) =>
      a[1].score < b[1].score || (a[1].score === b[1].score && a[0] > b[0]);
    return selectTop(eligible, quota, worse).map(([itemId, { score, reason }]) => ({ itemId, score, reason }));
  }
}

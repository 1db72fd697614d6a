// A baseline's list for a user: the best-scored items the user has not had.
import { topK } from '../../top-k/top-k.js';

/**
 * Item indices of the k highest scores, best first, ties by index. The user's own items and items
 * scored exactly 0 (no evidence at all) are left out, so a list may be shorter than k.
 */
export function unseenTop(scores: ArrayLike<number>, k: number, own: ArrayLike<number>): number[] {
  return topK(scores, k, { exclude: own, skip: (score) => score === 0 });
}

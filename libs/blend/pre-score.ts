import type { BlendCandidate } from './types.js';

/**
 * Stage 5: a blended pre-score by weighted reciprocal-rank fusion, sum over proposing generators
 * of weight / (k + rank + 1). Rank-based, so generators with incomparable score scales blend fairly,
 * and items several generators agree on rise. Best first; ties by item id for repeatability. Sets
 * each candidate's preScore in place (a copy of each was a Blend's most promoted garbage); the
 * returned order is a new array.
 */
export function preScore(
  candidates: BlendCandidate[],
  weights: ReadonlyMap<string, number>,
  k: number,
): BlendCandidate[] {
  for (const c of candidates) {
    let preScore = 0;
    for (const p of c.proposals) preScore += (weights.get(p.generator) ?? 1) / (k + p.rank + 1);
    c.preScore = preScore;
  }
  return candidates.slice().sort(bestFirst);
}

/**
 * Higher pre-score first, then item id. Compares rather than subtracts: a comparator returning a
 * fractional difference boxes a new number per comparison (~40,000 per Blend).
 */
function bestFirst(a: BlendCandidate, b: BlendCandidate): number {
  if (a.preScore < b.preScore) return 1;
  if (a.preScore > b.preScore) return -1;
  return a.itemId < b.itemId ? -1 : 1;
}

// The best k items of a score vector, leaving out some (the user's own history).

/**
 * Item indices of the k highest scores, best first, ties by index. Excluded indices and items
 * scored exactly 0 (no evidence at all) are left out, so a list may be shorter than k.
 */
export function topK(scores: Float64Array, k: number, exclude: ArrayLike<number> = []): number[] {
  const excluded = new Uint8Array(scores.length);
  for (let p = 0; p < exclude.length; p++) excluded[exclude[p]] = 1;
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!excluded[i] && scores[i] !== 0 && !Number.isNaN(scores[i])) candidates.push(i);
  candidates.sort((a, b) => scores[b] - scores[a] || a - b);
  return candidates.slice(0, k);
}

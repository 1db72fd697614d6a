// Vocabularies and buckets: strings to small integers for embedding tables.

/** value → index; indices 0 (padding) and 1 (unknown) are never in the map. */
export type Vocab = ReadonlyMap<string, number>;

const PAD_TOKEN = '<pad>';
const OOV_TOKEN = '<unk>';

/** A vocabulary list: index 0 = padding, 1 = unknown, then the values in the order given (deduplicated). */
export function buildVocab(values: Iterable<string | null | undefined>): string[] {
  const out = [PAD_TOKEN, OOV_TOKEN];
  const seen = new Set<string>();
  for (const v of values) {
    if (v == null || v === '' || seen.has(v)) continue;
    seen.add(v);
    out.push(v);
  }
  return out;
}

/** Index of value, or 1 (unknown) when the vocabulary lacks it. */
export function vocabIndex(map: Vocab, value: string): number {
  return map.get(value) ?? 1;
}

/**
 * Bucket of a number against ascending edges: 0 when the value is missing (NaN), otherwise
 * 1 + the number of edges ≤ value, so there are edges.length + 2 buckets in all.
 */
export function bucketIndex(value: number, edges: readonly number[]): number {
  if (!Number.isFinite(value)) return 0;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (edges[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return 1 + lo;
}

/** Ascending, distinct quantile edges of values (for the popularity buckets). */
export function quantileEdges(values: readonly number[], quantiles: readonly number[]): number[] {
  if (values.length === 0) return [];
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [];
  for (const q of quantiles) {
    const v = sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * sorted.length)))];
    if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
  }
  return edges;
}

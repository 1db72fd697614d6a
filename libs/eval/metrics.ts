/** Offline retrieval metrics. Lists are best first; `relevant` is what the user engaged with on the test day. */

/** Share of the relevant items found in the first k of the list. */
export function recallAtK(list: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  if (relevant.size === 0) return 0;
  let hits = 0;
  for (let i = 0; i < Math.min(k, list.length); i++) if (relevant.has(list[i])) hits++;
  return hits / relevant.size;
}

/**
 * Hits in the first k over min(k, |relevant|): 1 means the list could not have done better at
 * this k, also for a user with more held-out items than k (Liang et al. 2018; Steck 2019, EASE).
 */
export function recallCappedAtK(list: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  if (relevant.size === 0) return 0;
  let hits = 0;
  for (let i = 0; i < Math.min(k, list.length); i++) if (relevant.has(list[i])) hits++;
  return hits / Math.min(k, relevant.size);
}

/** Share of the catalog that appears in at least one user's first k. */
export function catalogCoverage(lists: Iterable<readonly string[]>, catalogSize: number, k: number): number {
  if (catalogSize === 0) return 0;
  const seen = new Set<string>();
  for (const list of lists) for (const id of list.slice(0, k)) seen.add(id);
  return seen.size / catalogSize;
}

/** Share of this list's first k that some other list also proposes: 1 means nothing of its own. */
export function overlapWithOthers(list: readonly string[], others: readonly (readonly string[])[], k: number): number {
  const top = list.slice(0, k);
  if (top.length === 0) return 0;
  const elsewhere = new Set<string>();
  for (const other of others) for (const id of other.slice(0, k)) elsewhere.add(id);
  return top.filter((id) => elsewhere.has(id)).length / top.length;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const mean = (values: readonly number[]) =>
  values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;

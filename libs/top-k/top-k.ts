// Top-k selection with a bounded min-heap: O(n log k), no full sort of n items. One for every
// caller: the simulator's popular lists and oracle, the generators' ranked lists, the retrieval
// and baseline evaluations.

/**
 * The k best of `items`, best first. `worse(a, b)` says a ranks below b; it must be a strict total
 * order (break ties, e.g. by id) so the result never depends on iteration order.
 */
export function selectTop<T>(items: Iterable<T>, k: number, worse: (a: T, b: T) => boolean): T[] {
  const heap: T[] = [];
  if (k <= 0) return heap;
  for (const c of items) {
    if (heap.length < k) {
      heap.push(c);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        swap(heap, i, p);
        i = p;
      }
    } else if (worse(heap[0], c)) {
      heap[0] = c;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && worse(heap[l], heap[m])) m = l;
        if (r < heap.length && worse(heap[r], heap[m])) m = r;
        if (m === i) break;
        swap(heap, i, m);
        i = m;
      }
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/** Without a destructuring swap, which can allocate a pair per step of the heap. */
function swap<T>(xs: T[], i: number, j: number): void {
  const t = xs[i];
  xs[i] = xs[j];
  xs[j] = t;
}

export interface TopKOptions {
  /** The indices to choose from (default: every index of the score vector). */
  candidates?: Iterable<number>;
  /** Indices left out (e.g. the user's own history). */
  exclude?: ArrayLike<number>;
  /** Scores left out (e.g. exactly 0: no evidence at all). NaN is never a score. */
  skip?: (score: number) => boolean;
}

/**
 * The indices of the k highest scores, best first; ties go to the lower index so the result never
 * depends on iteration order. Left-out indices and scores are dropped before the cut, so a list
 * may be shorter than k.
 */
export function topK(scores: ArrayLike<number>, k: number, options: TopKOptions = {}): number[] {
  const excluded = new Set<number>();
  for (let p = 0; p < (options.exclude?.length ?? 0); p++) excluded.add(options.exclude![p]);
  const keep = (i: number) => !excluded.has(i) && !Number.isNaN(scores[i]) && !options.skip?.(scores[i]);
  const worse = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  return selectTop(filter(options.candidates ?? indices(scores.length), keep), k, worse);
}

function* indices(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i;
}

function* filter(items: Iterable<number>, keep: (i: number) => boolean): Iterable<number> {
  for (const i of items) if (keep(i)) yield i;
}

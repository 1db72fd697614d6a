// Top-k selection with a bounded min-heap: O(n log k), no full sort of n items.

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
        [heap[i], heap[p]] = [heap[p], heap[i]];
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
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/**
 * The k candidates with the highest score, best first; ties go to the lower candidate number so
 * the result never depends on iteration order.
 */
export function topK(score: ArrayLike<number>, candidates: ArrayLike<number>, k: number): Int32Array {
  const worse = (a: number, b: number) => score[a] < score[b] || (score[a] === score[b] && a > b);
  return Int32Array.from(selectTop(Array.from(candidates), k, worse));
}

// Top-k selection with a bounded min-heap: O(n log k), no full sort of n scores.

/**
 * The k candidates with the highest score, best first; ties go to the lower candidate number so
 * the result never depends on iteration order.
 */
export function topK(score: ArrayLike<number>, candidates: ArrayLike<number>, k: number): Int32Array {
  const heap: number[] = [];
  const worse = (a: number, b: number) => score[a] < score[b] || (score[a] === score[b] && a > b);
  for (let j = 0; j < candidates.length; j++) {
    const c = candidates[j];
    if (heap.length < k) {
      heap.push(c);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (k > 0 && worse(heap[0], c)) {
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
  heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return Int32Array.from(heap);
}

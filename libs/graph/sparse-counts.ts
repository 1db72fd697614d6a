/**
 * Per-node numbers over a dense node space that are cheap to reset: a typed array plus the list of
 * nodes touched since the last reset, so a request that touches a few thousand nodes of a
 * million-node graph costs a few thousand operations, not a million. A generator keeps one and
 * reuses it: requests run one at a time on the JS thread, and the holder must not await while
 * using it.
 */
export class SparseCounts {
  private readonly values: Float64Array;
  private readonly marked: Uint8Array;
  private readonly touchedList: Int32Array;
  private count = 0;

  constructor(readonly size: number) {
    this.values = new Float64Array(size);
    this.marked = new Uint8Array(size);
    this.touchedList = new Int32Array(size);
  }

  private touch(v: number): void {
    if (this.marked[v] === 0) {
      this.marked[v] = 1;
      this.touchedList[this.count++] = v;
    }
  }

  /** Adds amount to node v and returns its new value. */
  add(v: number, amount = 1): number {
    this.touch(v);
    return (this.values[v] += amount);
  }

  set(v: number, value: number): void {
    this.touch(v);
    this.values[v] = value;
  }

  get(v: number): number {
    return this.values[v];
  }

  /** Nodes written since the last reset, in first-touched order. */
  touched(): Int32Array {
    return this.touchedList.subarray(0, this.count);
  }

  reset(): void {
    for (let k = 0; k < this.count; k++) {
      const v = this.touchedList[k];
      this.values[v] = 0;
      this.marked[v] = 0;
    }
    this.count = 0;
  }
}

export interface NodeValue {
  node: number;
  value: number;
}

/**
 * The k touched nodes with the highest positive value, best first, ties by node number so the
 * order is repeatable; `skip` leaves nodes out before the cut. Finds the k-th largest value by
 * quickselect first, so only about k nodes are sorted however many were touched. `skip` is asked
 * only of nodes in that order until k are kept (it can cost more than the rest, e.g. a Bloom filter
 * lookup by item id), widening the cut when it skipped some.
 */
export function topTouched(counts: SparseCounts, k: number, skip?: (v: number) => boolean): NodeValue[] {
  const touched = counts.touched();
  const nodes = new Int32Array(touched.length);
  const values = new Float64Array(touched.length);
  let n = 0;
  for (const v of touched) {
    const value = counts.get(v);
    if (value > 0) {
      nodes[n] = v;
      values[n++] = value;
    }
  }
  if (k <= 0 || n === 0) return [];
  for (let want = k; ; want *= 2) {
    const threshold = want >= n ? -Infinity : kthLargest(values.slice(0, n), want);
    const best: NodeValue[] = [];
    for (let i = 0; i < n; i++) if (values[i] >= threshold) best.push({ node: nodes[i], value: values[i] });
    // Compares rather than subtracts values: a fractional difference would box a number per comparison.
    best.sort((a, b) => (a.value < b.value ? 1 : a.value > b.value ? -1 : a.node - b.node));
    if (!skip) return best.length > k ? best.slice(0, k) : best;
    const out: NodeValue[] = [];
    for (const c of best) {
      if (skip(c.node)) continue;
      out.push(c);
      if (out.length === k) return out;
    }
    // Fewer than k left after skipping: done when every node was looked at, else widen the cut.
    if (best.length === n) return out;
  }
}

/** The k-th largest of xs (1-based), by quickselect; reorders xs. */
export function kthLargest(xs: Float64Array, k: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = xs[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i] > pivot) i++;
      while (xs[j] < pivot) j--;
      if (i <= j) {
        const t = xs[i];
        xs[i] = xs[j];
        xs[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return xs[target];
  }
  return xs[target];
}

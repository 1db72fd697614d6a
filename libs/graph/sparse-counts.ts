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
 * quickselect first, so only about k nodes are sorted however many were touched.
 */
export function topTouched(counts: SparseCounts, k: number, skip?: (v: number) => boolean): NodeValue[] {
  const touched = counts.touched();
  const nodes = new Int32Array(touched.length);
  const values = new Float64Array(touched.length);
  let n = 0;
  for (const v of touched) {
    const value = counts.get(v);
    if (value > 0 && !skip?.(v)) {
      nodes[n] = v;
      values[n++] = value;
    }
  }
  if (k <= 0 || n === 0) return [];
  const threshold = k >= n ? -Infinity : kthLargest(values.slice(0, n), k);
  const out: NodeValue[] = [];
  for (let i = 0; i < n; i++) if (values[i] >= threshold) out.push({ node: nodes[i], value: values[i] });
  out.sort((a, b) => b.value - a.value || a.node - b.node);
  return out.length > k ? out.slice(0, k) : out;
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

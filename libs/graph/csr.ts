/**
 * Compressed sparse row adjacency: the neighbours of node v are targets[offsets[v] .. offsets[v+1]),
 * with optional parallel weights. Typed arrays only, so a graph of millions of edges costs a few
 * bytes per edge and walks touch no objects.
 */
export interface Csr {
  /** Length nodeCount + 1, non-decreasing, offsets[0] = 0. */
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
  /** Parallel to targets; absent for an unweighted graph. */
  readonly weights?: Float32Array;
}

/** A directed edge list (parallel arrays), weights optional. */
export interface EdgeList {
  src: ArrayLike<number>;
  dst: ArrayLike<number>;
  weight?: ArrayLike<number>;
}

/**
 * Builds a CSR over nodeCount nodes from an edge list by counting sort: O(nodes + edges).
 * Each node's neighbours keep the order their edges had in the list.
 */
export function buildCsr(nodeCount: number, edges: EdgeList): Csr {
  const m = edges.src.length;
  if (edges.dst.length !== m) throw new Error(`edge list: ${m} sources but ${edges.dst.length} targets`);
  if (edges.weight && edges.weight.length !== m)
    throw new Error(`edge list: ${m} edges but ${edges.weight.length} weights`);
  const offsets = new Int32Array(nodeCount + 1);
  for (let e = 0; e < m; e++) {
    const s = edges.src[e];
    const d = edges.dst[e];
    if (!(s >= 0 && s < nodeCount) || !(d >= 0))
      throw new RangeError(`edge ${e} (${s} → ${d}) is outside 0..${nodeCount - 1}`);
    offsets[s + 1]++;
  }
  for (let v = 0; v < nodeCount; v++) offsets[v + 1] += offsets[v];
  const next = offsets.slice(0, nodeCount);
  const targets = new Int32Array(m);
  const weights = edges.weight ? new Float32Array(m) : undefined;
  for (let e = 0; e < m; e++) {
    const at = next[edges.src[e]]++;
    targets[at] = edges.dst[e];
    if (weights) weights[at] = edges.weight![e];
  }
  return weights ? { offsets, targets, weights } : { offsets, targets };
}

/** The same edges reversed: targets become sources. targetCount is the number of target nodes. */
export function transposeCsr(csr: Csr, targetCount: number): Csr {
  const nodeCount = csr.offsets.length - 1;
  const src = new Int32Array(csr.targets.length);
  for (let v = 0; v < nodeCount; v++) src.fill(v, csr.offsets[v], csr.offsets[v + 1]);
  return buildCsr(targetCount, { src: csr.targets, dst: src, weight: csr.weights });
}

export const nodeCount = (csr: Csr): number => csr.offsets.length - 1;

export const degree = (csr: Csr, v: number): number => csr.offsets[v + 1] - csr.offsets[v];

export const neighbors = (csr: Csr, v: number): Int32Array => csr.targets.subarray(csr.offsets[v], csr.offsets[v + 1]);

/** Sum of v's edge weights (its degree when unweighted). */
export function weightedDegree(csr: Csr, v: number): number {
  if (!csr.weights) return degree(csr, v);
  let sum = 0;
  for (let e = csr.offsets[v]; e < csr.offsets[v + 1]; e++) sum += csr.weights[e];
  return sum;
}

/** The largest degree in the graph (0 for an empty one). */
export function maxDegree(csr: Csr): number {
  let max = 0;
  for (let v = 0; v + 1 < csr.offsets.length; v++) max = Math.max(max, csr.offsets[v + 1] - csr.offsets[v]);
  return max;
}

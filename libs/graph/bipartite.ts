import { buildCsr, transposeCsr, type Csr } from './csr.js';
import { IdIndex } from './id-index.js';

/**
 * An undirected bipartite graph between two id spaces (e.g. boards and items, users and
 * creators), stored as two CSRs: left → right and right → left.
 */
export interface BipartiteGraph {
  left: IdIndex;
  right: IdIndex;
  leftToRight: Csr;
  rightToLeft: Csr;
}

/** One left node with its right neighbours (and optional edge weights, parallel to `right`). */
export interface AdjacencyRow {
  left: string;
  right: readonly string[];
  weights?: readonly number[];
}

/** Builds the graph from per-left-node adjacency lists; a left node with no neighbours is kept as isolated. */
export function bipartiteFromRows(rows: Iterable<AdjacencyRow>): BipartiteGraph {
  const left = new IdIndex();
  const right = new IdIndex();
  const src: number[] = [];
  const dst: number[] = [];
  const weight: number[] = [];
  let weighted: boolean | undefined;
  for (const row of rows) {
    const l = left.intern(row.left);
    const hasWeights = row.weights !== undefined;
    if (weighted === undefined) weighted = hasWeights;
    else if (weighted !== hasWeights)
      throw new Error(`adjacency row "${row.left}": either every row has weights or none does`);
    if (row.weights && row.weights.length !== row.right.length) {
      throw new Error(`adjacency row "${row.left}": ${row.right.length} neighbours but ${row.weights.length} weights`);
    }
    row.right.forEach((id, k) => {
      src.push(l);
      dst.push(right.intern(id));
      if (row.weights) weight.push(row.weights[k]);
    });
  }
  const leftToRight = buildCsr(left.size, { src, dst, weight: weighted ? weight : undefined });
  return { left, right, leftToRight, rightToLeft: transposeCsr(leftToRight, right.size) };
}

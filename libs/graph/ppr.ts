// Personalized PageRank by forward push (Andersen, Chung & Lang, FOCS 2006): residual mass is
// pushed from node to node until every residual is below ε times its node's degree. The work is
// bounded by O(1 / (ε · α)) pushes, independent of the graph's size, which is what makes it fit
// a request path.
import { buildCsr, type Csr } from './csr.js';
import type { BipartiteGraph } from './bipartite.js';
import { SparseCounts } from './sparse-counts.js';

export interface PprSeed {
  node: number;
  weight: number;
}

export interface PprOptions {
  /** Teleport (restart) probability α. */
  alpha: number;
  /** Push threshold ε: a node is pushed while its residual ≥ ε · its weighted degree. */
  epsilon: number;
  /** A hard cap on pushes, on top of ε. */
  maxPushes: number;
}

export interface PprResult {
  /** The PageRank estimate p: p[v] ≤ true PPR(v), with error ≤ ε · degree(v). */
  estimate: SparseCounts;
  pushes: number;
}

/**
 * Forward-push PPR on an undirected weighted graph given as a symmetric CSR (every edge in both
 * directions). Reuses the SparseCounts it is given (reset first) so requests allocate nothing
 * proportional to the graph.
 */
export class PushPpr {
  private readonly estimate: SparseCounts;
  private readonly residual: SparseCounts;
  /** Weighted degree of every node. */
  readonly strength: Float64Array;
  private readonly queue: Int32Array;
  private readonly queued: Uint8Array;

  constructor(readonly graph: Csr) {
    const n = graph.offsets.length - 1;
    this.estimate = new SparseCounts(n);
    this.residual = new SparseCounts(n);
    this.strength = new Float64Array(n);
    for (let v = 0; v < n; v++) {
      let s = 0;
      for (let e = graph.offsets[v]; e < graph.offsets[v + 1]; e++) s += graph.weights ? graph.weights[e] : 1;
      this.strength[v] = s;
    }
    this.queue = new Int32Array(n);
    this.queued = new Uint8Array(n);
  }

  /** PPR from the seeds (weights normalized to a distribution). The result is valid until the next call. */
  run(seeds: readonly PprSeed[], options: PprOptions): PprResult {
    const { alpha, epsilon, maxPushes } = options;
    const { offsets, targets, weights } = this.graph;
    const n = offsets.length - 1;
    this.estimate.reset();
    this.residual.reset();
    const total = seeds.reduce((a, s) => a + Math.max(0, s.weight), 0);
    // A ring buffer of nodes to push: each node is in it at most once, so n slots suffice.
    let head = 0;
    let size = 0;
    const enqueue = (v: number) => {
      if (this.queued[v]) return;
      this.queued[v] = 1;
      this.queue[(head + size++) % n] = v;
    };
    if (total > 0) {
      for (const s of seeds) if (s.weight > 0) this.residual.add(s.node, s.weight / total);
      for (const v of this.residual.touched()) enqueue(v);
    }
    let pushes = 0;
    while (size > 0 && pushes < maxPushes) {
      const u = this.queue[head];
      head = (head + 1) % n;
      size--;
      this.queued[u] = 0;
      const r = this.residual.get(u);
      const du = this.strength[u];
      if (r <= 0 || r < epsilon * du) continue;
      pushes++;
      this.estimate.add(u, alpha * r);
      this.residual.set(u, 0);
      if (du === 0) continue; // a dangling node keeps only its α share
      const spread = ((1 - alpha) * r) / du;
      for (let e = offsets[u]; e < offsets[u + 1]; e++) {
        const v = targets[e];
        const after = this.residual.add(v, spread * (weights ? weights[e] : 1));
        if (after >= epsilon * this.strength[v]) enqueue(v);
      }
    }
    // Whatever is left queued when the push cap hit is dropped: the estimate stays a lower bound.
    while (size > 0) {
      this.queued[this.queue[head]] = 0;
      head = (head + 1) % n;
      size--;
    }
    return { estimate: this.estimate, pushes };
  }
}

/**
 * A bipartite graph as one undirected graph: left nodes keep their numbers, right node r becomes
 * leftCount + r; every edge appears in both directions with its weight.
 */
export function undirectedFromBipartite(graph: BipartiteGraph): Csr {
  const L = graph.left.size;
  const { offsets, targets, weights } = graph.leftToRight;
  const m = targets.length;
  const src = new Int32Array(2 * m);
  const dst = new Int32Array(2 * m);
  const w = new Float32Array(2 * m);
  for (let l = 0; l < L; l++) {
    for (let e = offsets[l]; e < offsets[l + 1]; e++) {
      src[e] = l;
      dst[e] = L + targets[e];
      src[m + e] = L + targets[e];
      dst[m + e] = l;
      w[e] = w[m + e] = weights ? weights[e] : 1;
    }
  }
  return buildCsr(L + graph.right.size, { src, dst, weight: w });
}

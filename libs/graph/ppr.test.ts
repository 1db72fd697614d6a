import { describe, expect, it } from 'vitest';
import { bipartiteFromRows } from './bipartite.js';
import { neighbors, type Csr } from './csr.js';
import { PushPpr, undirectedFromBipartite } from './ppr.js';

/** PPR by power iteration: p = α·s + (1 − α)·p·W, W the row-normalized weights. */
function exactPpr(g: Csr, seeds: Map<number, number>, alpha: number): Float64Array {
  const n = g.offsets.length - 1;
  const s = new Float64Array(n);
  for (const [v, w] of seeds) s[v] = w;
  let p = Float64Array.from(s);
  for (let iter = 0; iter < 500; iter++) {
    const next = new Float64Array(n);
    for (let v = 0; v < n; v++) next[v] += alpha * s[v];
    for (let u = 0; u < n; u++) {
      let d = 0;
      for (let e = g.offsets[u]; e < g.offsets[u + 1]; e++) d += g.weights![e];
      for (let e = g.offsets[u]; e < g.offsets[u + 1]; e++)
        next[g.targets[e]] += ((1 - alpha) * p[u] * g.weights![e]) / d;
    }
    p = next;
  }
  return p;
}

describe('undirectedFromBipartite', () => {
  it('puts right nodes after left ones and every edge both ways with its weight', () => {
    const b = bipartiteFromRows([
      { left: 'u1', right: ['c1', 'c2'], weights: [1, 0.5] },
      { left: 'u2', right: ['c2'], weights: [2] },
    ]);
    const g = undirectedFromBipartite(b);
    expect(g.offsets.length - 1).toBe(4);
    const c2 = 2 + b.right.get('c2')!;
    expect(Array.from(neighbors(g, 0))).toEqual([2, c2]);
    expect(Array.from(neighbors(g, c2)).sort()).toEqual([0, 1]);
    const weightOf = (u: number, v: number) => g.weights![g.offsets[u] + Array.from(neighbors(g, u)).indexOf(v)];
    expect(weightOf(1, c2)).toBe(2);
    expect(weightOf(c2, 1)).toBe(2);
  });
});

describe('PushPpr', () => {
  const b = bipartiteFromRows([
    { left: 'u1', right: ['c1', 'c2'], weights: [1, 1] },
    { left: 'u2', right: ['c2', 'c3'], weights: [1, 0.5] },
    { left: 'u3', right: ['c3', 'c4'], weights: [1, 1] },
    { left: 'u4', right: ['c1'], weights: [2] },
    { left: 'v1', right: ['d1', 'd2'], weights: [1, 1] }, // another component
  ]);
  const g = undirectedFromBipartite(b);
  const L = b.left.size;
  const c = (id: string) => L + b.right.get(id)!;

  it('matches power-iteration PPR within its error bound', () => {
    const ppr = new PushPpr(g);
    const seeds = [
      { node: c('c1'), weight: 1 },
      { node: b.left.get('u3')!, weight: 1 },
    ];
    const { estimate, pushes } = ppr.run(seeds, { alpha: 0.2, epsilon: 1e-7, maxPushes: 1_000_000 });
    const exact = exactPpr(
      g,
      new Map([
        [c('c1'), 0.5],
        [b.left.get('u3')!, 0.5],
      ]),
      0.2,
    );
    expect(pushes).toBeGreaterThan(0);
    for (let v = 0; v < exact.length; v++) expect(estimate.get(v)).toBeCloseTo(exact[v], 5);
    let mass = 0;
    for (const v of estimate.touched()) mass += estimate.get(v);
    expect(mass).toBeLessThanOrEqual(1 + 1e-9);
    expect(mass).toBeGreaterThan(0.999);
  });

  it("stays in the seeds' component and ranks nearer creators higher", () => {
    const ppr = new PushPpr(g);
    const { estimate } = ppr.run([{ node: c('c1'), weight: 1 }], { alpha: 0.3, epsilon: 1e-6, maxPushes: 100_000 });
    expect(estimate.get(c('d1'))).toBe(0);
    expect(estimate.get(c('c2'))).toBeGreaterThan(estimate.get(c('c3')));
    expect(estimate.get(c('c3'))).toBeGreaterThan(estimate.get(c('c4')));
  });

  it('is reusable across calls and honours the push cap', () => {
    const ppr = new PushPpr(g);
    const first = ppr.run([{ node: c('c4'), weight: 1 }], { alpha: 0.3, epsilon: 1e-6, maxPushes: 100_000 });
    const c4 = first.estimate.get(c('c4'));
    const capped = ppr.run([{ node: c('c1'), weight: 1 }], { alpha: 0.3, epsilon: 1e-9, maxPushes: 3 });
    expect(capped.pushes).toBe(3);
    expect(capped.estimate.get(c('c4'))).toBe(0);
    const again = ppr.run([{ node: c('c4'), weight: 1 }], { alpha: 0.3, epsilon: 1e-6, maxPushes: 100_000 });
    expect(again.estimate.get(c('c4'))).toBe(c4);
  });

  it('does nothing without seeds or on an empty graph', () => {
    expect(new PushPpr(g).run([], { alpha: 0.3, epsilon: 1e-6, maxPushes: 10 }).pushes).toBe(0);
    const empty = new PushPpr(undirectedFromBipartite(bipartiteFromRows([])));
    expect(empty.run([], { alpha: 0.3, epsilon: 1e-6, maxPushes: 10 }).pushes).toBe(0);
  });
});

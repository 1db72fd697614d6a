import { describe, expect, it } from 'vitest';
import { bipartiteFromRows } from './bipartite.js';
import { buildCsr, degree, maxDegree, neighbors, nodeCount, transposeCsr, weightedDegree } from './csr.js';
import { IdIndex } from './id-index.js';

describe('buildCsr', () => {
  it('groups edges by source, keeping their order, with weights alongside', () => {
    const csr = buildCsr(4, { src: [2, 0, 2, 0, 3], dst: [1, 3, 0, 2, 3], weight: [0.5, 1, 2, 3, 4] });
    expect(nodeCount(csr)).toBe(4);
    expect(Array.from(csr.offsets)).toEqual([0, 2, 2, 4, 5]);
    expect(Array.from(neighbors(csr, 0))).toEqual([3, 2]);
    expect(Array.from(neighbors(csr, 1))).toEqual([]);
    expect(Array.from(neighbors(csr, 2))).toEqual([1, 0]);
    expect(degree(csr, 2)).toBe(2);
    expect(weightedDegree(csr, 2)).toBe(2.5);
    expect(weightedDegree(csr, 0)).toBe(4);
    expect(maxDegree(csr)).toBe(2);
  });

  it('refuses edges outside the node range and mismatched lists', () => {
    expect(() => buildCsr(2, { src: [0, 2], dst: [1, 0] })).toThrow(/edge 1 \(2 → 0\) is outside 0..1/);
    expect(() => buildCsr(2, { src: [0], dst: [1, 0] })).toThrow(/1 sources but 2 targets/);
    expect(() => buildCsr(2, { src: [0], dst: [1], weight: [] })).toThrow(/1 edges but 0 weights/);
  });

  it('handles an empty graph', () => {
    const csr = buildCsr(0, { src: [], dst: [] });
    expect(nodeCount(csr)).toBe(0);
    expect(maxDegree(csr)).toBe(0);
  });

  it('transposes: every edge reversed, weights kept', () => {
    const csr = buildCsr(3, { src: [0, 0, 1], dst: [1, 0, 1], weight: [1, 2, 3] });
    const t = transposeCsr(csr, 2);
    expect(nodeCount(t)).toBe(2);
    expect(Array.from(neighbors(t, 0))).toEqual([0]);
    expect(Array.from(neighbors(t, 1))).toEqual([0, 1]);
    expect(Array.from(t.weights!)).toEqual([2, 1, 3]);
  });
});

describe('IdIndex', () => {
  it('numbers ids densely in first-seen order', () => {
    const ids = new IdIndex();
    expect([ids.intern('b'), ids.intern('a'), ids.intern('b')]).toEqual([0, 1, 0]);
    expect(ids.get('a')).toBe(1);
    expect(ids.get('zzz')).toBeUndefined();
    expect(ids.name(0)).toBe('b');
    expect(ids.size).toBe(2);
    expect(() => ids.name(2)).toThrow(/no id numbered 2/);
  });
});

describe('bipartiteFromRows', () => {
  it('builds both directions from adjacency rows', () => {
    const g = bipartiteFromRows([
      { left: 'b1', right: ['i1', 'i2'] },
      { left: 'b2', right: ['i2', 'i3'] },
      { left: 'b3', right: [] },
    ]);
    expect(g.left.size).toBe(3);
    expect(g.right.size).toBe(3);
    const itemsOf = (b: string) => Array.from(neighbors(g.leftToRight, g.left.get(b)!)).map((n) => g.right.name(n));
    const boardsOf = (i: string) => Array.from(neighbors(g.rightToLeft, g.right.get(i)!)).map((n) => g.left.name(n));
    expect(itemsOf('b2')).toEqual(['i2', 'i3']);
    expect(itemsOf('b3')).toEqual([]);
    expect(boardsOf('i2')).toEqual(['b1', 'b2']);
    expect(boardsOf('i3')).toEqual(['b2']);
  });

  it('keeps weights, and refuses rows that disagree about having them', () => {
    const g = bipartiteFromRows([{ left: 'u1', right: ['c1', 'c2'], weights: [1, 0.5] }]);
    expect(Array.from(g.rightToLeft.weights!)).toEqual([1, 0.5]);
    expect(() =>
      bipartiteFromRows([
        { left: 'u1', right: ['c1'], weights: [1] },
        { left: 'u2', right: ['c1'] },
      ]),
    ).toThrow(/every row has weights or none/);
    expect(() => bipartiteFromRows([{ left: 'u1', right: ['c1'], weights: [] }])).toThrow(/1 neighbours but 0 weights/);
  });
});

import { describe, expect, it } from 'vitest';
import { SparseCounts, kthLargest, topTouched } from './sparse-counts.js';

describe('SparseCounts', () => {
  it('adds, sets, lists touched nodes once, and resets only what it touched', () => {
    const c = new SparseCounts(10);
    expect(c.add(3)).toBe(1);
    expect(c.add(3, 2)).toBe(3);
    c.set(7, 0.5);
    c.add(1, 4);
    expect(Array.from(c.touched())).toEqual([3, 7, 1]);
    expect([c.get(3), c.get(7), c.get(1), c.get(0)]).toEqual([3, 0.5, 4, 0]);
    c.reset();
    expect(Array.from(c.touched())).toEqual([]);
    expect([c.get(3), c.get(7), c.get(1)]).toEqual([0, 0, 0]);
    c.add(7);
    expect(Array.from(c.touched())).toEqual([7]);
  });

  it('ranks the top touched nodes, ties by node number, skipping what it is told to', () => {
    const c = new SparseCounts(10);
    c.add(5, 2);
    c.add(2, 2);
    c.add(9, 7);
    c.add(4, 1);
    c.set(6, 0);
    expect(topTouched(c, 3)).toEqual([
      { node: 9, value: 7 },
      { node: 2, value: 2 },
      { node: 5, value: 2 },
    ]);
    expect(topTouched(c, 10, (v) => v === 9).map((x) => x.node)).toEqual([2, 5, 4]);
  });
});

describe('kthLargest', () => {
  it('finds the k-th largest value, duplicates included', () => {
    const xs = [5, 1, 9, 3, 9, 7, 2, 8, 6, 4];
    const sorted = [...xs].sort((a, b) => b - a);
    for (let k = 1; k <= xs.length; k++) expect(kthLargest(Float64Array.from(xs), k)).toBe(sorted[k - 1]);
    expect(kthLargest(Float64Array.from([2, 2, 2]), 2)).toBe(2);
  });

  it('agrees with a full sort on random data, and topTouched keeps ties at the cut in node order', () => {
    let seed = 1;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const xs = Float64Array.from({ length: 1000 }, () => Math.floor(rand() * 50));
    const sorted = [...xs].sort((a, b) => b - a);
    for (const k of [1, 10, 100, 999, 1000]) expect(kthLargest(xs.slice(), k)).toBe(sorted[k - 1]);
    const c = new SparseCounts(1000);
    xs.forEach((x, v) => x > 0 && c.add(v, x));
    const top = topTouched(c, 30);
    const expected = [...xs.keys()]
      .filter((v) => xs[v] > 0)
      .sort((a, b) => xs[b] - xs[a] || a - b)
      .slice(0, 30);
    expect(top.map((t) => t.node)).toEqual(expected);
  });
});

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

  it('asks skip only of the best nodes, and gives what skipping every node first would', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const c = new SparseCounts(5000);
    for (let v = 0; v < 5000; v++) if (rand() < 0.8) c.add(v, Math.floor(rand() * 40));
    const all = [...c.touched()].filter((v) => c.get(v) > 0).sort((a, b) => c.get(b) - c.get(a) || a - b);
    for (const skipShare of [0, 0.3, 0.9, 1]) {
      const skipped = new Set(all.filter(() => rand() < skipShare));
      const asked = new Set<number>();
      const skip = (v: number) => (asked.add(v), skipped.has(v));
      const top = topTouched(c, 50, skip);
      expect(top.map((t) => t.node)).toEqual(all.filter((v) => !skipped.has(v)).slice(0, 50));
      if (skipShare === 0) expect(asked.size).toBeLessThanOrEqual(50 + 5); // ties at the cut aside
    }
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

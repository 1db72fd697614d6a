import { describe, expect, it } from 'vitest';
import { createRng, hashSeed } from './random.js';

describe('createRng', () => {
  it('repeats exactly for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(seqA);
    expect(createRng('world').next()).toBe(createRng(hashSeed('world')).next());
  });

  it('draws uniform numbers in [0, 1) and integers in [0, n)', () => {
    const rng = createRng(1);
    const counts = new Array(10).fill(0);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < 50_000; i++) {
      const x = rng.next();
      min = Math.min(min, x);
      max = Math.max(max, x);
      counts[rng.int(10)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(300);
  });

  it('draws standard normals and Poisson counts with the right moments', () => {
    const rng = createRng(2);
    const xs = Array.from({ length: 40_000 }, () => rng.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    const ps = Array.from({ length: 20_000 }, () => rng.poisson(3));
    expect(Math.abs(ps.reduce((a, b) => a + b, 0) / ps.length - 3)).toBeLessThan(0.06);
    expect(rng.poisson(0)).toBe(0);
  });

  it('picks by weight, plain or cumulative, and never a zero weight', () => {
    const rng = createRng(3);
    const counts = [0, 0, 0];
    const cumCounts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) {
      counts[rng.weightedIndex([1, 0, 3])]++;
      cumCounts[rng.cumulativeIndex([1, 1, 4])]++;
    }
    expect(counts[1]).toBe(0);
    expect(counts[2] / counts[0]).toBeGreaterThan(2.7);
    expect(counts[2] / counts[0]).toBeLessThan(3.3);
    expect(cumCounts[1]).toBe(0);
    expect(cumCounts[2] / cumCounts[0]).toBeGreaterThan(2.7);
    expect(() => rng.weightedIndex([0, 0])).toThrow(/positive/);
  });

  it('shuffles into a permutation and picks members', () => {
    const rng = createRng(4);
    const arr = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle([...arr]);
    expect(shuffled).not.toEqual(arr);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(arr);
    expect(arr).toContain(rng.pick(arr));
    expect(() => rng.pick([])).toThrow(/empty/);
  });
});

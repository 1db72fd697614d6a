import { describe, expect, it } from 'vitest';
import { createRng } from '../data/random.js';
import { bootstrapInterval, meanInterval } from './bootstrap.js';

describe('bootstrap intervals over users', () => {
  it('covers the true mean about as often as its level says (Bernoulli users, p = 0.3)', () => {
    const rng = createRng(1);
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const values = Array.from({ length: 200 }, () => (rng.next() < 0.3 ? 1 : 0));
      const ci = meanInterval(values, { reps: 400, seed: t });
      expect(ci.lo).toBeLessThanOrEqual(ci.value);
      expect(ci.hi).toBeGreaterThanOrEqual(ci.value);
      if (ci.lo <= 0.3 && 0.3 <= ci.hi) covered++;
    }
    // 95% nominal; the percentile bootstrap runs a little under it at n = 200.
    expect(covered / trials).toBeGreaterThan(0.88);
    expect(covered / trials).toBeLessThanOrEqual(1);
  });

  it('narrows with more users, and is the value itself for one user', () => {
    const width = (n: number) => {
      const ci = meanInterval(
        Array.from({ length: n }, (_, i) => i % 2),
        { seed: 3 },
      );
      return ci.hi - ci.lo;
    };
    expect(width(400)).toBeLessThan(width(100));
    expect(meanInterval([0.5])).toEqual({ value: 0.5, lo: 0.5, hi: 0.5 });
    expect(meanInterval([])).toEqual({ value: 0, lo: 0, hi: 0 });
  });

  it('takes any statistic over the drawn users (e.g. distinct items over their lists)', () => {
    const lists = [['a', 'b'], ['b', 'c'], ['d']];
    const distinct = (users: ArrayLike<number>) => {
      const seen = new Set<string>();
      for (let i = 0; i < users.length; i++) for (const item of lists[users[i]]) seen.add(item);
      return seen.size;
    };
    const ci = bootstrapInterval(lists.length, distinct, { reps: 200 });
    expect(ci.value).toBe(4);
    expect(ci.lo).toBeGreaterThanOrEqual(1);
    expect(ci.hi).toBeLessThanOrEqual(4);
  });

  it('with the centered method, brackets a statistic that resampling pulls down (distinct items over users)', () => {
    const rng = createRng(2);
    // 300 users, each with 5 of 2,000 items: repeated users in a draw see fewer distinct items.
    const lists = Array.from({ length: 300 }, () => Array.from({ length: 5 }, () => rng.int(2_000)));
    const distinct = (users: ArrayLike<number>) => {
      const seen = new Set<number>();
      for (let i = 0; i < users.length; i++) for (const item of lists[users[i]]) seen.add(item);
      return seen.size / 2_000;
    };
    const percentile = bootstrapInterval(lists.length, distinct, { reps: 300 });
    expect(percentile.hi).toBeLessThan(percentile.value); // the drift: the plain interval misses its own value
    const centered = bootstrapInterval(lists.length, distinct, { reps: 300, method: 'centered' });
    expect(centered.lo).toBeLessThan(centered.value);
    expect(centered.hi).toBeGreaterThan(centered.value);
    // The same spread as the plain draws, only moved.
    expect(centered.hi - centered.lo).toBeCloseTo(percentile.hi - percentile.lo, 10);
  });
});

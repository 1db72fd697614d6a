import { describe, expect, it } from 'vitest';
import { catalogCoverage, mean, overlapWithOthers, percentile, recallAtK, recallCappedAtK } from './metrics.js';

describe('eval metrics', () => {
  it('recall@k counts relevant items within the first k', () => {
    const relevant = new Set(['a', 'c', 'z']);
    expect(recallAtK(['a', 'b', 'c', 'd'], relevant, 2)).toBeCloseTo(1 / 3);
    expect(recallAtK(['a', 'b', 'c', 'd'], relevant, 3)).toBeCloseTo(2 / 3);
    expect(recallAtK([], relevant, 10)).toBe(0);
    expect(recallAtK(['a'], new Set(), 10)).toBe(0);
  });

  it('capped recall@k divides by min(k, relevant): a full list of hits is 1', () => {
    const relevant = new Set(['a', 'b', 'c', 'd']);
    expect(recallCappedAtK(['a', 'b', 'x'], relevant, 2)).toBe(1);
    expect(recallCappedAtK(['a', 'x', 'b'], relevant, 2)).toBe(0.5);
    expect(recallCappedAtK(['a', 'x', 'b'], relevant, 10)).toBe(0.5);
    expect(recallCappedAtK(['a'], new Set(), 10)).toBe(0);
  });

  it('coverage is the share of the catalog shown to anyone', () => {
    expect(
      catalogCoverage(
        [
          ['a', 'b', 'x'],
          ['b', 'c'],
        ],
        10,
        2,
      ),
    ).toBeCloseTo(3 / 10);
  });

  it('overlap is the share of a list others also propose', () => {
    expect(overlapWithOthers(['a', 'b', 'c', 'd'], [['a'], ['c', 'q']], 4)).toBeCloseTo(0.5);
    expect(overlapWithOthers([], [['a']], 4)).toBe(0);
  });

  it('percentiles and means', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([], 50)).toBe(0);
    expect(mean([1, 2, 3])).toBe(2);
  });
});

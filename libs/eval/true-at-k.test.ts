import { describe, expect, it } from 'vitest';
import { trueAtK } from './true-at-k.js';

describe('true@K', () => {
  const p: Record<string, number> = { a: 0.5, b: 0.25, c: 0.125, d: 0.0625 };
  const of = (id: string) => p[id] ?? 0;

  it('sums P(engage | shown) over the first K, at each K', () => {
    expect(trueAtK(['a', 'b', 'c', 'd'], [1, 3, 10], of, new Set())).toEqual([0.5, 0.875, 0.9375]);
    expect(trueAtK([], [1, 5], of, new Set())).toEqual([0, 0]);
  });

  it('counts a repeated item once and a known item not at all: neither can lift a list past the best K', () => {
    expect(trueAtK(['a', 'a', 'a'], [3], of, new Set())).toEqual([0.5]);
    expect(trueAtK(['a', 'b', 'c'], [2, 3], of, new Set(['a']))).toEqual([0.25, 0.375]);
  });
});

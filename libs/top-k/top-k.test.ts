import { describe, expect, it } from 'vitest';
import { selectTop, topK } from './top-k.js';

describe('selectTop', () => {
  it('agrees with a full sort, best first', () => {
    // Scattered scores with many ties.
    const items = Array.from({ length: 500 }, (_, id) => ({ id, score: (id * 7919) % 50 }));
    const worse = (a: (typeof items)[number], b: (typeof items)[number]) =>
      a.score < b.score || (a.score === b.score && a.id > b.id);
    const sorted = [...items].sort((a, b) => b.score - a.score || a.id - b.id);
    for (const k of [0, 1, 7, 100, 500, 900])
      expect(selectTop(items, k, worse)).toEqual(sorted.slice(0, Math.max(0, k)));
  });
});

describe('topK', () => {
  const scores = Float64Array.from([0.5, 2, 0, 2, Number.NaN, -1, 3]);

  it('gives the indices of the highest scores, ties to the lower index, never NaN', () => {
    expect(topK(scores, 3)).toEqual([6, 1, 3]);
    expect(topK(scores, 10)).toEqual([6, 1, 3, 0, 2, 5]);
    expect(topK(scores, 0)).toEqual([]);
  });

  it('chooses among candidates, leaves out excluded indices and skipped scores before the cut', () => {
    expect(topK(scores, 2, { candidates: [0, 2, 5] })).toEqual([0, 2]);
    expect(topK(scores, 3, { exclude: [6, 1] })).toEqual([3, 0, 2]);
    expect(topK(scores, 10, { skip: (s) => s === 0 || s < 0 })).toEqual([6, 1, 3, 0]);
  });
});

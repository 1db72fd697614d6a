import { describe, expect, it } from 'vitest';
import { preScore } from './pre-score.js';
import type { BlendCandidate } from './types.js';

const cand = (itemId: string, proposals: [string, number][]): BlendCandidate => ({
  itemId,
  preScore: 0,
  proposals: proposals.map(([generator, rank]) => ({ generator, rank, score: 1, reason: '' })),
});

describe('preScore (weighted reciprocal-rank fusion)', () => {
  it('ranks items several generators agree on above a single top pick', () => {
    const out = preScore(
      [
        cand('solo', [['a', 0]]),
        cand('agreed', [
          ['a', 3],
          ['b', 2],
        ]),
      ],
      new Map(),
      60,
    );
    expect(out.map((c) => c.itemId)).toEqual(['agreed', 'solo']);
    expect(out[1].preScore).toBeCloseTo(1 / 61);
    expect(out[0].preScore).toBeCloseTo(1 / 64 + 1 / 63);
  });

  it('applies generator weights', () => {
    const out = preScore(
      [cand('from_a', [['a', 0]]), cand('from_b', [['b', 0]])],
      new Map([
        ['a', 0.5],
        ['b', 2],
      ]),
      60,
    );
    expect(out.map((c) => c.itemId)).toEqual(['from_b', 'from_a']);
    expect(out[0].preScore).toBeCloseTo(2 / 61);
  });

  it('breaks ties by item id so the order is repeatable', () => {
    const out = preScore([cand('b', [['a', 0]]), cand('a', [['b', 0]])], new Map(), 60);
    expect(out.map((c) => c.itemId)).toEqual(['a', 'b']);
  });

  it('orders as "higher pre-score, else item id" does, with many ties', () => {
    let seed = 3;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const gens = ['a', 'b', 'c', 'd'];
    const weights = new Map([
      ['a', 1],
      ['b', 0.5],
    ]);
    const candidates = Array.from({ length: 2_000 }, (_, i) =>
      cand(
        `i${Math.floor(rand() * 1e6)}_${i}`,
        Array.from({ length: 1 + Math.floor(rand() * 3) }, () => [
          gens[Math.floor(rand() * 4)],
          Math.floor(rand() * 5),
        ]),
      ),
    );
    const out = preScore(candidates, weights, 60);
    const expected = [...out].sort((a, b) => b.preScore - a.preScore || (a.itemId < b.itemId ? -1 : 1));
    expect(out.map((c) => c.itemId)).toEqual(expected.map((c) => c.itemId));
  });
});

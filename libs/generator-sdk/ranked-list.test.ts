import { describe, expect, it } from 'vitest';
import { createRng } from '../data/random.js';
import { ScoreBoard, takeUnseen } from './ranked-list.js';

describe('ScoreBoard', () => {
  it('sums scores per item and returns the same top as a full sort, ties by id', () => {
    const rng = createRng(3);
    const board = new ScoreBoard();
    const sums = new Map<string, number>();
    for (let i = 0; i < 5_000; i++) {
      const id = `item-${Math.floor(rng.next() * 1_500)}`;
      // Whole numbers: many ties, so the tie-break is exercised.
      const score = Math.floor(rng.next() * 4);
      board.add(id, score, 'r');
      sums.set(id, (sums.get(id) ?? 0) + score);
    }
    const exclude = new Set(['item-1', 'item-2', 'item-3']);
    const expected = [...sums]
      .filter(([id]) => !exclude.has(id))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 200)
      .map(([itemId, score]) => ({ itemId, score, reason: 'r' }));
    expect(board.top(200, exclude)).toEqual(expected);
    expect(board.top(0)).toEqual([]);
    expect(board.top(10_000)).toHaveLength(sums.size);
  });

  it('takeUnseen keeps list order and skips engaged items', () => {
    const rows = ['a', 'b', 'c', 'd'].map((item_id, i) => ({ item_id, score: 4 - i }));
    expect(takeUnseen(rows, new Set(['b']), 2, 'x').map((c) => c.itemId)).toEqual(['a', 'c']);
  });
});

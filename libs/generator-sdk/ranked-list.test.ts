import { describe, expect, it } from 'vitest';
import { createRng } from '../data/random.js';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import { buildItemFilter } from './item-filter.js';
import { ScoreBoard, takeUnseen } from './ranked-list.js';
import { engagedItems } from './seeds.js';

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
    const sorted = [...sums].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const expected = (exclude: Set<string>) =>
      sorted
        .filter(([id]) => !exclude.has(id))
        .slice(0, 200)
        .map(([itemId, score]) => ({ itemId, score, reason: 'r' }));
    const few = new Set(['item-1', 'item-2', 'item-3']);
    expect(board.top(200, few)).toEqual(expected(few));
    // Most of the best 400 excluded: more than the first look at 2 × quota covers.
    const most = new Set(
      sorted
        .slice(0, 400)
        .filter((_, i) => i % 5 !== 0)
        .map(([id]) => id),
    );
    expect(board.top(200, most)).toEqual(expected(most));
    expect(board.top(0)).toEqual([]);
    expect(board.top(10_000)).toHaveLength(sums.size);
  });

  it('takeUnseen keeps list order and skips engaged items', () => {
    const rows = ['a', 'b', 'c', 'd'].map((item_id, i) => ({ item_id, score: 4 - i }));
    expect(takeUnseen(rows, new Set(['b']), 2, 'x').map((c) => c.itemId)).toEqual(['a', 'c']);
  });
});

describe('takeUnseen and ScoreBoard over the engaged history', () => {
  it('skip items found only in the engaged filter, not just the recent actions', () => {
    const user = UserContext.fromPartial({
      userId: 'u1',
      recentActions: [{ itemId: 'recent', type: ActionType.ACTION_TYPE_CLICK, timeMs: 1 }],
      engagedFilter: buildItemFilter(['recent', 'long-ago']),
    });
    const rows = ['recent', 'long-ago', 'new1', 'new2'].map((item_id, i) => ({ item_id, score: 10 - i }));
    expect(takeUnseen(rows, engagedItems(user), 2, 'x').map((c) => c.itemId)).toEqual(['new1', 'new2']);
    const board = new ScoreBoard();
    for (const r of rows) board.add(r.item_id, r.score, 'r');
    expect(board.top(10, engagedItems(user)).map((c) => c.itemId)).toEqual(['new1', 'new2']);
    // Iterating gives the ids known exactly: what an ANN request can exclude by id.
    expect([...engagedItems(user)]).toEqual(['recent']);
  });
});

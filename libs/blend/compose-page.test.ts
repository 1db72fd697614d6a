import { describe, expect, it } from 'vitest';
import { composePage, creatorCap } from './compose-page.js';
import type { BlendCandidate, ItemCatalog } from './types.js';

const cand = (itemId: string, generators: string[] = ['a', 'b']): BlendCandidate => ({
  itemId,
  preScore: 0,
  proposals: generators.map((generator) => ({ generator, rank: 0, score: 1, reason: '' })),
});

describe('composePage', () => {
  it('caps items per creator, then backfills when the page would otherwise stay short', () => {
    const catalog: ItemCatalog = new Map(['a1', 'a2', 'a3', 'b1'].map((id) => [id, { creatorId: id[0], topic: null }]));
    const ordered = ['a1', 'a2', 'a3', 'b1'].map((id) => cand(id));
    const capped = composePage(ordered, 3, { maxPerCreator: 2, maxSourceShare: 1 }, catalog);
    expect(capped.page.map((c) => c.itemId)).toEqual(['a1', 'a2', 'b1']);
    expect(capped.dropped).toEqual([expect.objectContaining({ itemId: 'a3', droppedBy: 'page:creator_cap' })]);
    // Built on read by its class: an own getter would hold every candidate until a full GC (compose-page.ts).
    expect(Object.getOwnPropertyDescriptor(capped, 'dropped')).toBeUndefined();
    const short = composePage(ordered, 4, { maxPerCreator: 2, maxSourceShare: 1 }, catalog);
    expect(short.page.map((c) => c.itemId)).toEqual(['a1', 'a2', 'b1', 'a3']);
  });

  it('scales the creator cap with the page: maxPerCreator per 50 items', () => {
    expect(creatorCap(3, 10)).toBe(3);
    expect(creatorCap(3, 50)).toBe(3);
    expect(creatorCap(3, 51)).toBe(6);
    expect(creatorCap(3, 500)).toBe(30);
    // One creator's 40 items, then 60 by others: a 60-item page takes the creator's first 6 only.
    const catalog: ItemCatalog = new Map();
    const ordered: BlendCandidate[] = [];
    for (let i = 0; i < 40; i++) (ordered.push(cand(`a${i}`)), catalog.set(`a${i}`, { creatorId: 'a', topic: null }));
    for (let i = 0; i < 60; i++)
      (ordered.push(cand(`o${i}`)), catalog.set(`o${i}`, { creatorId: `c${i}`, topic: null }));
    const { page, dropped } = composePage(ordered, 60, { maxPerCreator: 3, maxSourceShare: 1 }, catalog);
    expect(page.slice(0, 6).map((c) => c.itemId)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    expect(page.filter((c) => c.itemId.startsWith('a'))).toHaveLength(6);
    expect(dropped.find((c) => c.itemId === 'a6')?.droppedBy).toBe('page:creator_cap');
  });

  it('limits the share of items proposed by one generator alone', () => {
    const ordered = [
      cand('x1', ['x']),
      cand('x2', ['x']),
      cand('x3', ['x']),
      cand('y1', ['y']),
      cand('both', ['x', 'y']),
    ];
    const { page } = composePage(ordered, 4, { maxPerCreator: 10, maxSourceShare: 0.5 }, undefined);
    expect(page.map((c) => c.itemId)).toEqual(['x1', 'x2', 'y1', 'both']);
  });

  it('marks items past the page size as below the cutoff', () => {
    const { page, dropped } = composePage(
      [cand('1'), cand('2'), cand('3')],
      2,
      { maxPerCreator: 10, maxSourceShare: 1 },
      undefined,
    );
    expect(page).toHaveLength(2);
    expect(dropped).toEqual([expect.objectContaining({ itemId: '3', droppedBy: 'page:below_cutoff' })]);
  });
});

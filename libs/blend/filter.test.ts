import { describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import { filterCandidates, filterInput } from './filter.js';
import type { BlendCandidate, ItemCatalog } from './types.js';

const cand = (itemId: string): BlendCandidate => ({
  itemId,
  preScore: 0,
  proposals: [{ generator: 'g', rank: 0, score: 1, reason: '' }],
});

const user = UserContext.fromPartial({
  userId: 'u1',
  recentActions: [
    { itemId: 'clicked', type: ActionType.ACTION_TYPE_CLICK, timeMs: 1 },
    { itemId: 'saved', type: ActionType.ACTION_TYPE_SAVE, timeMs: 1 },
    { itemId: 'hidden', type: ActionType.ACTION_TYPE_HIDE, timeMs: 1 },
  ],
  seenItems: ['seen'],
  blockedCreators: ['c_blocked'],
});

const catalog: ItemCatalog = new Map([
  ['fresh', { creatorId: 'c1', topic: 't1' }],
  ['clicked', { creatorId: 'c1', topic: 't1' }],
  ['saved', { creatorId: 'c1', topic: 't1' }],
  ['hidden', { creatorId: 'c1', topic: 't1' }],
  ['seen', { creatorId: 'c1', topic: 't1' }],
  ['by_blocked', { creatorId: 'c_blocked', topic: 't1' }],
]);

describe('filterCandidates', () => {
  it('drops engaged, hidden, seen, unknown and blocked-creator items, naming the filter', () => {
    const { kept, dropped } = filterCandidates(
      ['fresh', 'clicked', 'saved', 'hidden', 'seen', 'by_blocked', 'not_in_catalog'].map(cand),
      filterInput(user, catalog),
    );
    expect(kept.map((c) => c.itemId)).toEqual(['fresh']);
    expect(Object.fromEntries(dropped.map((c) => [c.itemId, c.droppedBy]))).toEqual({
      clicked: 'filter:already_engaged',
      saved: 'filter:already_engaged',
      hidden: 'filter:hidden',
      seen: 'filter:already_seen',
      by_blocked: 'filter:blocked_creator',
      not_in_catalog: 'filter:ineligible',
    });
  });

  it('without a catalog, keeps items it cannot check', () => {
    const { kept } = filterCandidates(['fresh', 'not_in_catalog', 'hidden'].map(cand), filterInput(user, undefined));
    expect(kept.map((c) => c.itemId)).toEqual(['fresh', 'not_in_catalog']);
  });

  it('gives what it dropped through its class, not an own getter (an own one would hold the candidates until a full GC)', () => {
    const result = filterCandidates(['fresh', 'hidden'].map(cand), filterInput(user, catalog));
    expect(Object.getOwnPropertyDescriptor(result, 'dropped')).toBeUndefined();
    expect(result.dropped.map((c) => c.droppedBy)).toEqual(['filter:hidden']);
  });
});

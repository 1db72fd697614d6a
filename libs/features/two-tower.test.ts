import { describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import {
  DEFAULT_WEIGHTING,
  encodeItemBatch,
  encodeUserBatch,
  OOV,
  PAD,
  userInputDims,
  type ItemFeatureRow,
  type TwoTowerEncoding,
} from './two-tower.js';
import { bucketIndex, buildVocab, quantileEdges } from './vocab.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 10, 15, 30); // 15:30 UTC

const encoding: TwoTowerEncoding = {
  vocab: {
    items: buildVocab(['i1', 'i2', 'i3', 'i4']),
    creators: buildVocab(['c1', 'c2']),
    topics: buildVocab(['t01', 't02', 't03']),
    boards: buildVocab(['b1']),
    locales: buildVocab(['en-US', 'de-DE']),
  },
  inputs: { histLen: 3, followLen: 2, topicLen: 2 },
  buckets: { ageDays: [1, 7, 30], popularity: [1e-6, 1, 10] },
  weighting: DEFAULT_WEIGHTING,
};
const idx = (list: string[], v: string) => BigInt(list.indexOf(v));
const { items, creators, topics, locales, boards } = encoding.vocab;

const action = (itemId: string, type: ActionType, hoursAgo: number) => ({
  itemId,
  type,
  timeMs: T0 - hoursAgo * HOUR,
  boardId: '',
});

describe('vocab and buckets', () => {
  it('reserves 0 for padding and 1 for unknown, deduplicates and drops empty values', () => {
    expect(buildVocab(['a', '', null, 'b', 'a'])).toEqual(['<pad>', '<unk>', 'a', 'b']);
  });
  it('buckets: 0 = missing, then 1 + number of edges ≤ value', () => {
    const edges = [1, 7, 30];
    expect([NaN, 0, 0.5, 1, 6.9, 7, 29, 30, 1000].map((v) => bucketIndex(v, edges))).toEqual([
      0, 1, 1, 2, 2, 3, 3, 4, 4,
    ]);
    expect(bucketIndex(5, [])).toBe(1);
  });
  it('quantile edges are ascending and distinct', () => {
    expect(quantileEdges([1, 1, 1, 2, 3, 4, 5, 6, 7, 100], [0.5, 0.6, 0.9])).toEqual([4, 5, 100]);
    expect(quantileEdges([], [0.5])).toEqual([]);
  });
});

describe('encodeUserBatch', () => {
  const user = UserContext.fromPartial({
    userId: 'u1',
    requestTimeMs: T0,
    // Newest first, as the Events service hydrates it.
    recentActions: [
      action('i2', ActionType.ACTION_TYPE_SAVE, 1),
      action('i9', ActionType.ACTION_TYPE_HIDE, 2),
      action('i2', ActionType.ACTION_TYPE_CLICK, 2),
      action('i_new', ActionType.ACTION_TYPE_CLICK, 72),
      action('i3', ActionType.ACTION_TYPE_IMPRESSION, 73),
      action('i1', ActionType.ACTION_TYPE_CLICK, 100),
      action('i4', ActionType.ACTION_TYPE_SAVE, 200), // beyond histLen = 3 distinct items
    ],
    followedCreators: ['c2', 'c_unknown', 'c1'],
    topics: ['t03', 't01', 't02'],
    locale: 'de-DE',
  });

  it('lays out clicks and saves newest first, one slot per item, weighted by action and recency', () => {
    const batch = encodeUserBatch([user], encoding);
    expect([...batch.hist_items]).toEqual([idx(items, 'i2'), BigInt(OOV), idx(items, 'i1')]);
    const decay = (h: number) => 0.5 ** (h / DEFAULT_WEIGHTING.halfLifeHours);
    expect(batch.hist_weights[0]).toBeCloseTo(2 * decay(1) + 1 * decay(2), 6); // save + click of i2 add up
    expect(batch.hist_weights[1]).toBeCloseTo(decay(72), 6); // exactly one half-life: 0.5
    expect(batch.hist_weights[1]).toBeCloseTo(0.5, 6);
    expect(batch.hist_weights[2]).toBeCloseTo(decay(100), 6);
    expect([...batch.follow_creators]).toEqual([idx(creators, 'c2'), BigInt(OOV)]);
    expect([...batch.topics]).toEqual([idx(topics, 't03'), idx(topics, 't01')]);
    expect([...batch.locale]).toEqual([idx(locales, 'de-DE')]);
    expect([...batch.hour]).toEqual([15n]);
  });

  it('pads short histories and encodes a brand-new user without crashing', () => {
    const newcomer = UserContext.fromPartial({ userId: 'nobody', requestTimeMs: T0 + 8 * HOUR, locale: 'xx-XX' });
    const empty = UserContext.fromPartial({ userId: 'no_clock' });
    const batch = encodeUserBatch([user, newcomer, empty], encoding);
    const L = encoding.inputs.histLen;
    expect([...batch.hist_items.subarray(L, 2 * L)]).toEqual([0n, 0n, 0n]);
    expect([...batch.hist_weights.subarray(L, 2 * L)]).toEqual([0, 0, 0]);
    expect([...batch.follow_creators.subarray(2, 4)]).toEqual([BigInt(PAD), BigInt(PAD)]);
    expect([...batch.locale]).toEqual([idx(locales, 'de-DE'), BigInt(OOV), BigInt(OOV)]);
    expect([...batch.hour]).toEqual([15n, 23n, 0n]);
    const dims = userInputDims(encoding, 3);
    for (const [name, shape] of Object.entries(dims)) {
      expect((batch as unknown as Record<string, ArrayLike<unknown>>)[name].length).toBe(
        shape.reduce((a, b) => a * b, 1),
      );
    }
  });

  it('is deterministic and independent of the other users in the batch', () => {
    const alone = encodeUserBatch([user], encoding);
    const together = encodeUserBatch([UserContext.fromPartial({ userId: 'x' }), user], encoding);
    expect([...together.hist_items.subarray(3)]).toEqual([...alone.hist_items]);
    expect([...together.hist_weights.subarray(3)]).toEqual([...alone.hist_weights]);
  });
});

describe('encodeItemBatch', () => {
  const row = (over: Partial<ItemFeatureRow>): ItemFeatureRow => ({
    item_id: 'i1',
    topic: 't02',
    creator_id: 'c1',
    board_id: 'b1',
    created_ms: T0 - 3 * 24 * HOUR,
    popularity: 5,
    ...over,
  });

  it('maps ids to vocabulary indices and age/popularity to buckets as of asOfMs', () => {
    const batch = encodeItemBatch(
      [
        row({}),
        row({
          item_id: 'i_new',
          topic: null,
          creator_id: 'c_new',
          board_id: null,
          created_ms: T0 - HOUR,
          popularity: 0,
        }),
        row({ created_ms: null, popularity: 50 }),
      ],
      encoding,
      T0,
    );
    expect([...batch.item]).toEqual([idx(items, 'i1'), BigInt(OOV), idx(items, 'i1')]);
    expect([...batch.topic]).toEqual([idx(topics, 't02'), BigInt(PAD), idx(topics, 't02')]);
    expect([...batch.creator]).toEqual([idx(creators, 'c1'), BigInt(OOV), idx(creators, 'c1')]);
    expect([...batch.board]).toEqual([idx(boards, 'b1'), BigInt(PAD), idx(boards, 'b1')]);
    // 3 days old → between edges 1 and 7 → bucket 2; 1 hour → bucket 1; unknown age → 0.
    expect([...batch.age_bucket]).toEqual([2n, 1n, 0n]);
    // 5 ≥ 1 → bucket 3; 0 (never engaged) → bucket 1; 50 → bucket 4.
    expect([...batch.pop_bucket]).toEqual([3n, 1n, 4n]);
  });
});

// The ranker's shared encoding and metrics: what the service sends the model, and how it is judged.
import { describe, expect, it } from 'vitest';
import { ActionType } from '../generated/feedloom/v1/common.js';
import {
  encodeRankInputs,
  OOV,
  PAD,
  UNKNOWN_AFTER_LAST,
  utilityOf,
  type RankerEncoding,
  type RankerItem,
} from '../libs/ranking/encoding.js';
import { auc, hitAtK } from '../libs/ranking/metrics.js';

const enc: RankerEncoding = {
  vocab: {
    items: ['<pad>', '<unk>', 'i1', 'i2', 'i3'],
    topics: ['<pad>', '<unk>', 't1', 't2'],
    creators: ['<pad>', '<unk>', 'c1'],
    locales: ['<pad>', '<unk>', 'en-US', 'de-DE'],
    sources: ['<pad>', '<unk>', 'popular', 'topic'],
  },
  seqLen: 3,
  maxSources: 2,
  buckets: { gapHours: [1], ageDays: [1], popularity: [1], rank: [1] },
};
const HOUR = 3_600_000;
const now = Date.UTC(2026, 0, 10);
const catalog = new Map<string, RankerItem>([
  ['i1', { topic: 't1', creatorId: 'c1', locale: 'en-US', createdMs: now - 2 * 86_400_000, popularity: 7 }],
  ['i2', { topic: 't2', creatorId: 'c9', locale: 'de-DE', createdMs: null, popularity: 0 }],
  ['i9', { topic: 'tX', creatorId: null, locale: null, createdMs: now, popularity: 1 }],
]);
const lookup = (id: string) => catalog.get(id);

describe('ranker encoding', () => {
  it('keeps the newest seqLen clicks, saves and hides, with their gaps; ids through the vocabularies', () => {
    const feeds = encodeRankInputs(
      {
        locale: 'de-DE',
        recentActions: [
          { itemId: 'i1', type: ActionType.ACTION_TYPE_SAVE, timeMs: now - HOUR, boardId: 'b' },
          { itemId: 'iX', type: ActionType.ACTION_TYPE_IMPRESSION, timeMs: now - HOUR, boardId: '' },
          { itemId: 'i9', type: ActionType.ACTION_TYPE_HIDE, timeMs: now - 2 * HOUR, boardId: '' },
          { itemId: 'i2', type: ActionType.ACTION_TYPE_CLICK, timeMs: now + 5_000, boardId: '' },
          { itemId: 'i3', type: ActionType.ACTION_TYPE_CLICK, timeMs: now - 9 * HOUR, boardId: '' },
        ],
      },
      [],
      lookup,
      now,
      enc,
    );
    expect(feeds.seq_item.dims).toEqual([1, 3]);
    expect([...feeds.seq_item.data]).toEqual([2, OOV, 3]); // i1, i9 (unknown id), i2; i3 is past seqLen
    expect([...feeds.seq_topic.data]).toEqual([2, OOV, 3]); // i9's topic tX is unknown too
    expect([...feeds.seq_action.data]).toEqual([2, 3, 1]); // save, hide, click
    expect([...feeds.seq_gap_hours.data]).toEqual([1, 2, 0]); // a clock a little ahead is a 0 gap
    expect([...feeds.user_locale.data]).toEqual([3]);
  });

  it('sends an empty history as one padding slot', () => {
    const feeds = encodeRankInputs({ locale: '', recentActions: [] }, [], lookup, now, enc);
    expect(feeds.seq_item.dims).toEqual([1, 1]);
    expect([...feeds.seq_action.data]).toEqual([PAD]);
    expect([...feeds.user_locale.data]).toEqual([PAD]);
  });

  it('encodes candidates: catalog features as of the request, sources best rank first', () => {
    const feeds = encodeRankInputs(
      { locale: 'en-US', recentActions: [] },
      [
        {
          itemId: 'i1',
          sources: [
            { generator: 'topic', rank: 9 },
            { generator: 'new_generator', rank: 0 },
            { generator: 'popular', rank: 4 },
          ],
        },
        { itemId: 'i2', sources: [] },
        { itemId: 'not-in-catalog', sources: [{ generator: 'popular', rank: 1 }] },
      ],
      lookup,
      now,
      enc,
    );
    expect(feeds.cand_item.dims).toEqual([3]);
    expect([...feeds.cand_item.data]).toEqual([2, 3, OOV]);
    expect([...feeds.cand_topic.data]).toEqual([2, 3, PAD]);
    expect([...feeds.cand_creator.data]).toEqual([2, OOV, PAD]);
    expect([...feeds.cand_locale.data]).toEqual([2, 3, PAD]);
    expect([...feeds.cand_age_days.data]).toEqual([2, -1, -1]);
    expect([...feeds.cand_popularity.data]).toEqual([7, 0, 0]);
    expect(feeds.cand_source.dims).toEqual([3, 2]);
    expect([...feeds.cand_source.data]).toEqual([OOV, 2, PAD, PAD, 2, PAD]); // unknown generator at rank 0, then popular at 4
    expect([...feeds.cand_rank.data]).toEqual([0, 4, -1, -1, 1, -1]);
  });

  it("places each candidate's creation against the user's newest click, save or hide (not an impression)", () => {
    const feeds = encodeRankInputs(
      {
        locale: '',
        recentActions: [
          { itemId: 'iX', type: ActionType.ACTION_TYPE_IMPRESSION, timeMs: now, boardId: '' },
          { itemId: 'i3', type: ActionType.ACTION_TYPE_CLICK, timeMs: now - 5 * 86_400_000, boardId: '' },
        ],
      },
      [
        { itemId: 'i1', sources: [] }, // created 2 days before the request: 3 days after the click
        { itemId: 'i9', sources: [] }, // created at the request: 5 days after
        { itemId: 'i2', sources: [] }, // creation unknown
      ],
      lookup,
      now,
      enc,
    );
    expect([...feeds.cand_after_last_days.data]).toEqual([3, 5, UNKNOWN_AFTER_LAST]);
    const noHistory = encodeRankInputs(
      { locale: '', recentActions: [] },
      [{ itemId: 'i1', sources: [] }],
      lookup,
      now,
      enc,
    );
    expect([...noHistory.cand_after_last_days.data]).toEqual([UNKNOWN_AFTER_LAST]);
  });

  it('computes the utility from the weights', () => {
    expect(utilityOf({ click: 1, save: 2, hide: -4 }, { click: 0.5, save: 0.25, hide: 0.1 })).toBeCloseTo(0.6);
  });
});

describe('ranking metrics', () => {
  it('AUC counts ties half and is NaN without both classes', () => {
    expect(auc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])).toBe(1);
    expect(auc([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0])).toBe(0);
    expect(auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
    expect(auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0])).toBe(0.875);
    expect(auc([0.2, 0.1], [0, 0])).toBeNaN();
  });

  it('HIT@k counts requests with a positive in the top k; ties keep page order', () => {
    const r = hitAtK(
      [
        { scores: [0.9, 0.1, 0.5, 0.2], labels: [0, 0, 0, 1] }, // positive 3rd by score
        { scores: [0.9, 0.8, 0.7, 0.1], labels: [0, 0, 0, 1] }, // positive last
        { scores: [0.1, 0.2], labels: [0, 0] }, // no positive: not counted
        { scores: [1, 1, 1, 1], labels: [0, 0, 0, 1] }, // all tied: page order, positive 4th
      ],
      3,
    );
    expect(r).toEqual({ hit: 1 / 3, requests: 3 });
  });
});

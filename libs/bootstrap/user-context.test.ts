import { describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import { keepValidEntries, MAX_ENGAGED_FILTER_BYTES, validateUserContext } from './user-context.js';

const action = (itemId: string, timeMs = 1_000) => ({
  itemId,
  type: ActionType.ACTION_TYPE_CLICK,
  timeMs,
  boardId: '',
});

describe('keepValidEntries', () => {
  it('keeps a valid context as it is', () => {
    const user = UserContext.fromPartial({
      userId: 'u1',
      recentActions: [action('a'), action('b')],
      seenItems: ['c'],
      requestTimeMs: 5,
    });
    expect(keepValidEntries('user', user)).toEqual({ user, dropped: [] });
  });

  it('drops each malformed entry, says why in the validation message, and the rest validates', () => {
    const user = UserContext.fromPartial({
      userId: 'u1',
      recentActions: [action('a', -1), action('b'), { ...action('c'), type: 99 }],
      seenItems: ['ok', 'bad\u0000id'],
      locale: 'x'.repeat(300),
      requestTimeMs: 5,
      engagedFilter: { bits: Buffer.alloc(MAX_ENGAGED_FILTER_BYTES + 1), hashCount: 7, items: 1 },
    });
    const { user: kept, dropped } = keepValidEntries('user', user);
    expect(kept.recentActions.map((a) => a.itemId)).toEqual(['b']);
    expect(kept.seenItems).toEqual(['ok']);
    expect(kept.locale).toBe('');
    expect(kept.engagedFilter).toBeUndefined();
    expect(dropped).toEqual([
      expect.stringMatching(/^user\.recent_actions\[0\]\.time_ms: must be milliseconds since the Unix epoch/),
      expect.stringMatching(/^user\.recent_actions\[2\]\.type: must be one of/),
      expect.stringMatching(/^user\.seen_items\[1\]: must be valid UTF-8/),
      expect.stringMatching(/^user\.locale: must be at most 256 characters/),
      `user.engaged_filter.bits: must be at most ${MAX_ENGAGED_FILTER_BYTES} bytes (got ${MAX_ENGAGED_FILTER_BYTES + 1})`,
    ]);
    expect(() => validateUserContext('user', kept)).not.toThrow();
  });

  it('validation names a bad engaged filter field', () => {
    const user = UserContext.fromPartial({
      userId: 'u1',
      engagedFilter: { bits: Buffer.alloc(8), hashCount: 0, items: 1 },
    });
    expect(() => validateUserContext('user', user)).toThrow(
      /^user\.engaged_filter\.hash_count: must be an integer from 1 to 16 \(got 0\)/,
    );
  });
});

describe('validateUserContext', () => {
  it('names the path of the first bad field', () => {
    const valid = { userId: 'u1', recentActions: [action('a'), action('b')], seenItems: ['c', 'd'], requestTimeMs: 5 };
    const check = (edit: Partial<UserContext>) => () =>
      validateUserContext('user', UserContext.fromPartial({ ...valid, ...edit }));
    expect(check({})).not.toThrow();
    expect(check({ recentActions: [action('a'), { ...action('b'), type: 99 as ActionType }] })).toThrow(
      /^user\.recent_actions\[1\]\.type: must be one of/,
    );
    expect(check({ recentActions: [action('a'), action('')] })).toThrow(
      /^user\.recent_actions\[1\]\.item_id: is required/,
    );
    expect(check({ seenItems: ['c', 'bad\u0000id'] })).toThrow(/^user\.seen_items\[1\]: must be valid UTF-8/);
    expect(check({ userId: '' })).toThrow(/^user\.user_id: is required/);
  });
});

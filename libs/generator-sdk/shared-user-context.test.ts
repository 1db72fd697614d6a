import { describe, expect, it } from 'vitest';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import { GenerateRequest } from '../../generated/feedloom/v1/generator.js';
import { decodeGenerateRequest } from './encoded-messages.js';
import { buildItemFilter } from './item-filter.js';
import { validateGenerateRequest } from './validate.js';

const user = (id: string) =>
  UserContext.fromPartial({
    userId: id,
    requestTimeMs: Date.UTC(2026, 0, 9),
    recentActions: [
      { itemId: 'i1', type: ActionType.ACTION_TYPE_SAVE, timeMs: Date.UTC(2026, 0, 8) },
      { itemId: 'i2', type: ActionType.ACTION_TYPE_CLICK, timeMs: Date.UTC(2026, 0, 7), boardId: 'b1' },
    ],
    seenItems: ['i3', 'i4'],
    topics: ['t1'],
    engagedFilter: buildItemFilter(['i1', 'i2', 'i9']),
  });
const encode = (request: GenerateRequest) => GenerateRequest.encode(request).finish();
/** What decodeGenerateRequest gave before the user was shared: the generated decoder's request, validated, or the error. */
const before = (bytes: Uint8Array): GenerateRequest | string => {
  try {
    return validateGenerateRequest(GenerateRequest.decode(bytes));
  } catch (err) {
    return (err as Error).message;
  }
};
const now = (bytes: Uint8Array): GenerateRequest | string => {
  try {
    return decodeGenerateRequest(bytes);
  } catch (err) {
    return (err as Error).message;
  }
};

describe('decodeGenerateRequest with the user shared', () => {
  it('gives the generated decoder’s request, one frozen user object for the same bytes', () => {
    const a = decodeGenerateRequest(encode({ user: user('u1'), quota: 50, requestId: 'r1' }));
    const b = decodeGenerateRequest(encode({ user: user('u1'), quota: 200, requestId: 'r2' }));
    const c = decodeGenerateRequest(encode({ user: user('u2'), quota: 50, requestId: '' }));
    expect(a).toEqual({ user: user('u1'), quota: 50, requestId: 'r1' });
    expect(b).toEqual({ user: user('u1'), quota: 200, requestId: 'r2' });
    expect(c).toEqual({ user: user('u2'), quota: 50, requestId: '' });
    expect(b.user).toBe(a.user);
    expect(c.user).not.toBe(a.user);
    expect(Object.isFrozen(a.user)).toBe(true);
    expect(Object.isFrozen(a.user!.recentActions)).toBe(true);
    expect(Object.isFrozen(a.user!.recentActions[0])).toBe(true);
    expect(() => (a.user!.seenItems as string[]).push('x')).toThrow();
    expect(new Set(a.user!.engagedFilter!.bits)).toEqual(new Set(user('u1').engagedFilter!.bits));
  });

  it('answers what it does not share (repeated or unknown fields, a bad user, damaged bytes) as before', () => {
    const writer = new BinaryWriter();
    GenerateRequest.encode({ user: user('u1'), quota: 5, requestId: 'r' }, writer);
    writer.uint32(56).uint32(1); // an unknown field 7
    writer.uint32(16).int32(9); // quota again: the last one counts
    const repeated = writer.finish();
    expect(now(repeated)).toEqual(before(repeated));
    expect(decodeGenerateRequest(repeated).quota).toBe(9);

    const badUser = encode({ user: { ...user('u1'), seenItems: ['ok', ''] }, quota: 5, requestId: '' });
    expect(() => decodeGenerateRequest(badUser)).toThrow(/user\.seen_items\[1\]/);
    expect(() => decodeGenerateRequest(encode({ user: user('u1'), quota: 0, requestId: '' }))).toThrow(/quota/);
    expect(() => decodeGenerateRequest(encode({ user: undefined, quota: 5, requestId: '' }))).toThrow(/user/);

    const whole = encode({ user: user('u3'), quota: 5, requestId: 'r' });
    for (let cut = 1; cut < whole.length; cut += 3) {
      const part = whole.subarray(0, cut);
      const expected = before(part);
      // A decode error is now wrapped as INVALID_ARGUMENT naming the request, as it always was.
      if (typeof expected === 'string') expect(now(part)).toContain(expected);
      else expect(now(part)).toEqual(expected);
    }
  });
});

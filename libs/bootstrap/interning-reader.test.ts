import { describe, expect, it } from 'vitest';
import { GenerateResponse } from '../../generated/feedloom/v1/generator.js';
import { decodeInterned } from './interning-reader.js';

const decode = decodeInterned(GenerateResponse);
const answer: GenerateResponse = {
  generator: 'pixie',
  candidates: [
    { itemId: 'i00042', score: 0.5, reason: 'pixie walk from your recent items' },
    { itemId: 'i00043', score: 0.25, reason: 'pixie walk from your recent items' },
    { itemId: 'ítem-ü', score: 1, reason: 'x'.repeat(200) },
    { itemId: '', score: 0, reason: '' },
  ],
  snapshotVersion: 'v20260101T000000000Z',
  modelVersion: '',
};

describe('InterningReader', () => {
  it('decodes what the generated decoder does, non-ASCII and long strings included', () => {
    const bytes = GenerateResponse.encode(answer).finish();
    expect(decode(bytes)).toEqual(GenerateResponse.decode(bytes));
    expect(decode(bytes)).toEqual(answer);
  });

  it('tells apart two ids whose hashes collide', () => {
    // FNV-1a over 32 bits: among 300,000 short ids two share a hash (birthday bound ~77,000).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair && i < 300_000; i++) {
      const id = `k${i}`;
      let h = 0x811c9dc5;
      for (let j = 0; j < id.length; j++) h = Math.imul(h ^ id.charCodeAt(j), 0x01000193);
      const other = seen.get(h);
      if (other) pair = [other, id];
      else seen.set(h, id);
    }
    expect(pair).toBeDefined();
    const [x, y] = pair!;
    const message = (ids: string[]) => ({
      ...answer,
      candidates: ids.map((itemId) => ({ itemId, score: 1, reason: '' })),
    });
    for (const ids of [
      [x, y],
      [y, x],
      [x, x, y],
    ])
      expect(decode(GenerateResponse.encode(message(ids)).finish()).candidates.map((c) => c.itemId)).toEqual(ids);
  });

  it('refuses a truncated message as the generated decoder does', () => {
    const bytes = GenerateResponse.encode(answer).finish().subarray(0, 20);
    expect(() => GenerateResponse.decode(bytes)).toThrow();
    expect(() => decode(bytes)).toThrow();
  });
});

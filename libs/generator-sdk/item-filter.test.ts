import { describe, expect, it } from 'vitest';
import { createRng } from '../data/random.js';
import { buildItemFilter, ItemFilterReader } from './item-filter.js';

/** The filter's positions as specified: FNV-1a double hashing, (h1 + i·h2) mod bits. */
function referencePositions(id: string, size: number, hashCount: number): number[] {
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < id.length; i++) {
    h1 = Math.imul(h1 ^ id.charCodeAt(i), 0x01000193);
    h2 = Math.imul(h2 ^ id.charCodeAt(i), 0x01000193);
  }
  return Array.from({ length: hashCount }, (_, i) => ((h1 >>> 0) + i * ((h2 | 1) >>> 0)) % size);
}
const referenceHas = (bits: Uint8Array, hashCount: number, id: string) =>
  referencePositions(id, bits.length * 8, hashCount).every((j) => (bits[j >> 3] & (1 << (j & 7))) !== 0);

describe('ItemFilterReader', () => {
  it('sets the specified bits, holds every id it was built from, and answers other ids as those bits do', () => {
    const rng = createRng(11);
    for (const count of [1, 7, 300, 5_000]) {
      const ids = Array.from({ length: count }, () => `i${Math.floor(rng.next() * 1e6)}`);
      const filter = buildItemFilter(ids);
      const bits = new Uint8Array(filter.bits.length);
      for (const id of ids) for (const j of referencePositions(id, bits.length * 8, 7)) bits[j >> 3] |= 1 << (j & 7);
      expect(Buffer.from(filter.bits).equals(Buffer.from(bits))).toBe(true);
      const reader = new ItemFilterReader(filter);
      for (const id of ids) expect(reader.has(id)).toBe(true);
      let positives = 0;
      for (let k = 0; k < 20_000; k++) {
        const id = `x${k}é${Math.floor(rng.next() * 1e9)}`;
        const has = reader.has(id);
        expect(has).toBe(referenceHas(filter.bits, filter.hashCount, id));
        if (has) positives++;
      }
      if (count >= 300) expect(positives / 20_000).toBeLessThan(0.02); // ~0.8% by design
    }
    expect(new ItemFilterReader(undefined).has('i1')).toBe(false);
    expect(new ItemFilterReader(buildItemFilter([])).has('i1')).toBe(false);
  });
});

import type { ItemFilter } from '../../generated/feedloom/v1/common.js';

/**
 * A Bloom filter over item ids, as carried in UserContext.engaged_filter: the events service builds
 * one per user over everything they engaged with; generators and the blender ask it "engaged?".
 * Positions are FNV-1a double hashing (h1 + i·h2 mod bits), so any service computes the same ones.
 */

/** 10 bits and 7 hashes per item: about 0.8% of ids never added answer "in". */
export const FILTER_BITS_PER_ITEM = 10;
export const FILTER_HASH_COUNT = 7;

/** Where hashInto leaves its two hashes: no pair is allocated per lookup (one per candidate item). */
const hashed = new Uint32Array(2);

/** Two 32-bit FNV-1a hashes of the id's UTF-16 code units (different offset bases), h2 odd, into `hashed`. */
function hashInto(id: string): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193);
  }
  hashed[0] = h1;
  hashed[1] = h2 | 1;
}

/** A filter holding `ids`, sized for them (at least one byte); empty input gives an empty filter. */
export function buildItemFilter(ids: readonly string[]): ItemFilter {
  if (ids.length === 0) return { bits: Buffer.alloc(0), hashCount: 0, items: 0 };
  const bits = Buffer.alloc(Math.ceil((ids.length * FILTER_BITS_PER_ITEM) / 8));
  const size = bits.length * 8;
  for (const id of ids) {
    hashInto(id);
    const [h1, h2] = hashed;
    for (let i = 0; i < FILTER_HASH_COUNT; i++) {
      const j = (h1 + i * h2) % size;
      bits[j >> 3] |= 1 << (j & 7);
    }
  }
  return { bits, hashCount: FILTER_HASH_COUNT, items: ids.length };
}

/** Membership in a filter; an unset or empty filter holds nothing. */
export class ItemFilterReader {
  private readonly bits: Uint8Array;
  private readonly size: number;
  private readonly hashCount: number;

  constructor(filter: ItemFilter | undefined) {
    this.bits = filter?.bits ?? new Uint8Array(0);
    this.size = this.bits.length * 8;
    this.hashCount = this.size === 0 ? 0 : (filter?.hashCount ?? 0);
  }

  get empty(): boolean {
    return this.hashCount === 0;
  }

  has(id: string): boolean {
    if (this.hashCount === 0) return false;
    hashInto(id);
    // Position i is (h1 + i·h2) mod size: stepped as h1 mod size plus i times h2 mod size, wrapped,
    // the same positions without a division per probe.
    const size = this.size;
    const step = hashed[1] % size;
    let j = hashed[0] % size;
    for (let i = 0; i < this.hashCount; i++) {
      if ((this.bits[j >> 3] & (1 << (j & 7))) === 0) return false;
      j += step;
      if (j >= size) j -= size;
    }
    return true;
  }
}

// String ids numbered 0..size-1, held in shared memory: the ids' UTF-8 bytes end to end, where each
// starts, and an open-addressing hash table from id to number. One table serves every thread that
// is handed its form; nothing of it is on the JS heap.
import { IdIndex } from '../graph/id-index.js';
import { sharedInt32, sharedUint8 } from './shared-arrays.js';

/** What crosses to a worker thread (postMessage): views of shared memory, not copied. */
export interface SharedIdsForm {
  bytes: Uint8Array;
  /** Length size + 1: id n is bytes[starts[n] .. starts[n + 1]). */
  starts: Int32Array;
  /** Power-of-two length; 0 is empty, n + 1 is id n. */
  slots: Int32Array;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** FNV-1a over the UTF-8 bytes. An all-ASCII id hashes its char codes, which are its bytes. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

export class SharedIds {
  private readonly bytes: Uint8Array;
  private readonly starts: Int32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly text: Buffer;

  constructor(form: SharedIdsForm) {
    this.bytes = form.bytes;
    this.starts = form.starts;
    this.slots = form.slots;
    this.mask = form.slots.length - 1;
    this.text = Buffer.from(form.bytes.buffer, form.bytes.byteOffset, form.bytes.byteLength);
  }

  get size(): number {
    return this.starts.length - 1;
  }

  get form(): SharedIdsForm {
    return { bytes: this.bytes, starts: this.starts, slots: this.slots };
  }

  /** The id's number, or undefined when the table does not hold it. */
  get(id: string): number | undefined {
    let length = id.length;
    let key = scratch;
    let ascii = true;
    for (let i = 0; i < id.length && ascii; i++) ascii = id.charCodeAt(i) < 128;
    if (ascii) {
      if (length > scratch.length) scratch = new Uint8Array(2 * length);
      key = scratch;
      for (let i = 0; i < length; i++) key[i] = id.charCodeAt(i);
    } else {
      key = encoder.encode(id);
      length = key.length;
    }
    for (let slot = hashBytes(key, 0, length) & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot];
      if (entry === 0) return undefined;
      if (this.equals(entry - 1, key, length)) return entry - 1;
    }
  }

  /** The id numbered n. */
  name(n: number): string {
    if (!(n >= 0 && n < this.size)) throw new RangeError(`no id numbered ${n} (size ${this.size})`);
    const start = this.starts[n];
    const end = this.starts[n + 1];
    // Short ASCII ids (the usual case) are built in JS: cheaper than a call into the Buffer decoder.
    if (end - start <= 24) {
      let out = '';
      for (let i = start; i < end; i++) {
        const b = this.bytes[i];
        if (b >= 128) return this.text.toString('utf8', start, end);
        out += String.fromCharCode(b);
      }
      return out;
    }
    return this.text.toString('utf8', start, end);
  }

  private equals(n: number, key: Uint8Array, length: number): boolean {
    const start = this.starts[n];
    if (this.starts[n + 1] - start !== length) return false;
    for (let i = 0; i < length; i++) if (this.bytes[start + i] !== key[i]) return false;
    return true;
  }
}

/** Numbers ids in first-seen order while a snapshot is read (an IdIndex), then writes the shared table. */
export class SharedIdsBuilder extends IdIndex {
  finish(): SharedIds {
    const encoded = Array.from({ length: this.size }, (_, n) => encoder.encode(this.name(n)));
    const starts = sharedInt32(encoded.length + 1);
    for (let n = 0; n < encoded.length; n++) starts[n + 1] = starts[n] + encoded[n].length;
    const bytes = sharedUint8(starts[encoded.length]);
    encoded.forEach((e, n) => bytes.set(e, starts[n]));
    // Load factor at most 1/2: short probe runs.
    let capacity = 2;
    while (capacity < 2 * encoded.length) capacity *= 2;
    const slots = sharedInt32(capacity);
    for (let n = 0; n < encoded.length; n++) {
      let slot = hashBytes(bytes, starts[n], starts[n + 1]) & (capacity - 1);
      while (slots[slot] !== 0) slot = (slot + 1) & (capacity - 1);
      slots[slot] = n + 1;
    }
    return new SharedIds({ bytes, starts, slots });
  }
}

import type { ActionType } from '../../generated/feedloom/v1/common.js';

/** Marks "no board" in the board column. */
export const NO_BOARD = -1;
// time (float64), item and board (int32), type (uint8)
const BYTES_PER_ENTRY = 8 + 4 + 4 + 1;

/** One ArrayBuffer's columns, cut into segments of one length for many rings. */
interface Slab {
  times: Float64Array;
  items: Int32Array;
  boards: Int32Array;
  types: Uint8Array;
}

/** A ring's entries: `length` slots of a slab from `base`. */
interface Segment {
  slab: Slab;
  base: number;
  length: number;
}

// Entries per slab (about 70 kB): small rings share one, a full-size ring may have its own.
const SLAB_ENTRIES = 4096;

/**
 * Where rings keep their entries: slabs shared by the rings of one length, so a store of 10,000
 * users holds a few hundred ArrayBuffers instead of one (and four views) per ring, which every
 * garbage collection had to visit. A ring that grows hands its old segment back for the next ring.
 */
export class RingArena {
  private readonly byLength = new Map<number, { free: Segment[]; slab?: Slab; used: number }>();

  take(length: number): Segment {
    let c = this.byLength.get(length);
    if (!c) this.byLength.set(length, (c = { free: [], used: 0 }));
    const reused = c.free.pop();
    if (reused) return reused;
    const perSlab = Math.max(1, Math.floor(SLAB_ENTRIES / length));
    if (!c.slab || c.used === perSlab) {
      c.slab = newSlab(perSlab * length);
      c.used = 0;
    }
    return { slab: c.slab, base: length * c.used++, length };
  }

  give(segment: Segment): void {
    this.byLength.get(segment.length)?.free.push(segment);
  }
}

function newSlab(entries: number): Slab {
  const buffer = new ArrayBuffer(entries * BYTES_PER_ENTRY);
  return {
    times: new Float64Array(buffer, 0, entries),
    items: new Int32Array(buffer, entries * 8, entries),
    boards: new Int32Array(buffer, entries * 12, entries),
    types: new Uint8Array(buffer, entries * 16, entries),
  };
}

const EMPTY = newSlab(0);
const COLUMNS = ['times', 'items', 'boards', 'types'] as const;

/**
 * A user's newest actions by time, at most `capacity` of them, in typed arrays (17 bytes an
 * action) that grow on demand: memory per user stays bounded however long the history. Entries
 * usually arrive in time order; a late one is slotted into place, and one older than everything
 * kept when the ring is full is dropped. Its arrays are a segment of the arena's slabs.
 */
export class ActionRing {
  // The ring's segment, held as fields (not a Segment object: one object fewer per ring).
  private slab = EMPTY;
  private base = 0;
  private length = 0;
  // Slot of the oldest entry; the entries run from there, wrapping around the segment's length.
  private oldest = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    private readonly arena = new RingArena(),
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`ring capacity must be a positive integer (got ${capacity})`);
  }

  get size(): number {
    return this.count;
  }

  add(item: number, type: ActionType, timeMs: number, board = NO_BOARD): void {
    if (this.count === this.capacity) {
      if (timeMs < this.slab.times[this.at(0)]) return;
      // Drop the oldest; its slot becomes the newest position.
      this.oldest = (this.oldest + 1) % this.length;
      this.count--;
    } else if (this.count === this.length) {
      this.grow();
    }
    let i = this.count++;
    this.write(i, item, type, timeMs, board);
    // Insertion-sort step: move back past strictly newer entries (equal times keep arrival order).
    const times = this.slab.times;
    for (; i > 0 && times[this.at(i - 1)] > timeMs; i--) this.swap(i - 1, i);
  }

  /** Visits up to `limit` entries, newest first (ties: the later added first). */
  forEachNewest(limit: number, visit: (item: number, type: ActionType, timeMs: number, board: number) => void): void {
    const { items, types, times, boards } = this.slab;
    for (let i = this.count - 1; i >= 0 && i >= this.count - limit; i--) {
      const s = this.at(i);
      visit(items[s], types[s], times[s], boards[s]);
    }
  }

  // Index in the slab of the i-th entry counting from the oldest.
  private at(i: number): number {
    return this.base + ((this.oldest + i) % this.length);
  }

  private write(i: number, item: number, type: ActionType, timeMs: number, board: number): void {
    const s = this.at(i);
    const slab = this.slab;
    slab.times[s] = timeMs;
    slab.items[s] = item;
    slab.types[s] = type;
    slab.boards[s] = board;
  }

  private swap(i: number, j: number): void {
    const [a, b] = [this.at(i), this.at(j)];
    const { times, items, types, boards } = this.slab;
    for (const column of [times, items, types, boards]) [column[a], column[b]] = [column[b], column[a]];
  }

  private grow(): void {
    // Only a ring that is not yet full grows, and until it is full its oldest entry is at slot 0.
    // Fourfold: allocations are what loading spends on.
    const next = this.arena.take(Math.min(this.capacity, Math.max(8, this.length * 4)));
    const [from, to] = [this.slab, next.slab];
    const end = this.base + this.count;
    for (const column of COLUMNS) to[column].set(from[column].subarray(this.base, end), next.base);
    if (this.length) this.arena.give({ slab: this.slab, base: this.base, length: this.length });
    ({ slab: this.slab, base: this.base, length: this.length } = next);
  }
}

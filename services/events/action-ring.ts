import type { ActionType } from '../../generated/feedloom/v1/common.js';

/** Marks "no board" in the board column. */
export const NO_BOARD = -1;
// time (float64), item and board (int32), type (uint8)
const BYTES_PER_ENTRY = 8 + 4 + 4 + 1;

/**
 * A user's newest actions by time, at most `capacity` of them, in typed arrays (17 bytes an
 * action) that grow on demand: memory per user stays bounded however long the history. Entries
 * usually arrive in time order; a late one is slotted into place, and one older than everything
 * kept when the ring is full is dropped.
 */
export class ActionRing {
  private times = new Float64Array(0);
  private items = new Int32Array(0);
  private boards = new Int32Array(0);
  private types = new Uint8Array(0);
  // Slot of the oldest entry; the entries run from there, wrapping around the allocated length.
  private oldest = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`ring capacity must be a positive integer (got ${capacity})`);
  }

  get size(): number {
    return this.count;
  }

  add(item: number, type: ActionType, timeMs: number, board = NO_BOARD): void {
    if (this.count === this.capacity) {
      if (timeMs < this.times[this.oldest]) return;
      // Drop the oldest; its slot becomes the newest position.
      this.oldest = (this.oldest + 1) % this.times.length;
      this.count--;
    } else if (this.count === this.times.length) {
      this.grow();
    }
    let i = this.count++;
    this.write(i, item, type, timeMs, board);
    // Insertion-sort step: move back past strictly newer entries (equal times keep arrival order).
    for (; i > 0 && this.times[this.slot(i - 1)] > timeMs; i--) this.swap(i - 1, i);
  }

  /** Visits up to `limit` entries, newest first (ties: the later added first). */
  forEachNewest(limit: number, visit: (item: number, type: ActionType, timeMs: number, board: number) => void): void {
    for (let i = this.count - 1; i >= 0 && i >= this.count - limit; i--) {
      const s = this.slot(i);
      visit(this.items[s], this.types[s], this.times[s], this.boards[s]);
    }
  }

  // Slot of the i-th entry counting from the oldest.
  private slot(i: number): number {
    return (this.oldest + i) % this.times.length;
  }

  private write(i: number, item: number, type: ActionType, timeMs: number, board: number): void {
    const s = this.slot(i);
    this.times[s] = timeMs;
    this.items[s] = item;
    this.types[s] = type;
    this.boards[s] = board;
  }

  private swap(i: number, j: number): void {
    const [a, b] = [this.slot(i), this.slot(j)];
    for (const column of [this.times, this.items, this.types, this.boards])
      [column[a], column[b]] = [column[b], column[a]];
  }

  private grow(): void {
    // Only a ring that is not yet full grows, and until it is full its oldest entry is at slot 0.
    // One buffer for all four columns, growing fourfold: allocations are what loading spends on.
    const length = Math.min(this.capacity, Math.max(8, this.times.length * 4));
    const buffer = new ArrayBuffer(length * BYTES_PER_ENTRY);
    const [times, items, boards, types] = [this.times, this.items, this.boards, this.types];
    this.times = new Float64Array(buffer, 0, length);
    this.items = new Int32Array(buffer, length * 8, length);
    this.boards = new Int32Array(buffer, length * 12, length);
    this.types = new Uint8Array(buffer, length * 16, length);
    this.times.set(times);
    this.items.set(items);
    this.boards.set(boards);
    this.types.set(types);
  }
}

/**
 * The newest `capacity` entries by time, in a fixed-size ring: memory per user stays bounded
 * however long the history. Entries usually arrive in time order; a late one is slotted into
 * place, and one older than everything kept when the ring is full is dropped.
 */
export class RecentRing<T extends { timeMs: number }> {
  private readonly slots: T[] = [];
  // Index of the oldest entry once the ring is full (until then the oldest is at 0).
  private oldest = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`ring capacity must be a positive integer (got ${capacity})`);
  }

  get size(): number {
    return this.slots.length;
  }

  add(entry: T): void {
    const n = this.slots.length;
    if (n < this.capacity) {
      this.slots.push(entry);
      this.sinkLast(n + 1);
      return;
    }
    if (entry.timeMs < this.slots[this.oldest].timeMs) return;
    // Overwrite the oldest entry; the slot becomes the newest position.
    this.slots[this.oldest] = entry;
    this.oldest = (this.oldest + 1) % this.capacity;
    this.sinkLast(n);
  }

  /** Up to `limit` entries, newest first (ties: the later added first). */
  newestFirst(limit = this.capacity): T[] {
    const n = this.slots.length;
    const out: T[] = [];
    for (let i = n - 1; i >= 0 && out.length < limit; i--) out.push(this.at(i));
    return out;
  }

  // The i-th entry counting from the oldest.
  private at(i: number): T {
    return this.slots[(this.oldest + i) % this.slots.length];
  }

  private set(i: number, entry: T): void {
    this.slots[(this.oldest + i) % this.slots.length] = entry;
  }

  /** Moves the newest-position entry back past any strictly newer ones (insertion sort step). */
  private sinkLast(n: number): void {
    for (let i = n - 1; i > 0 && this.at(i - 1).timeMs > this.at(i).timeMs; i--) {
      const newer = this.at(i - 1);
      this.set(i - 1, this.at(i));
      this.set(i, newer);
    }
  }
}

import { describe, expect, it } from 'vitest';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { ActionRing, NO_BOARD, RingArena } from './action-ring.js';

const CLICK = ActionType.ACTION_TYPE_CLICK;
const entries = (ring: ActionRing, limit = ring.capacity) => {
  const out: [number, ActionType, number, number][] = [];
  ring.forEachNewest(limit, (item, type, time, board) => out.push([item, type, time, board]));
  return out;
};
const times = (ring: ActionRing, limit?: number) => entries(ring, limit).map((e) => e[2]);

describe('ActionRing', () => {
  it('keeps the newest entries up to its capacity, newest first, with all their fields', () => {
    const ring = new ActionRing(3);
    for (const t of [1, 2, 3, 4, 5]) ring.add(t * 10, CLICK, t);
    ring.add(60, ActionType.ACTION_TYPE_SAVE, 6, 7);
    expect(ring.size).toBe(3);
    expect(entries(ring)).toEqual([
      [60, ActionType.ACTION_TYPE_SAVE, 6, 7],
      [50, CLICK, 5, NO_BOARD],
      [40, CLICK, 4, NO_BOARD],
    ]);
    expect(times(ring, 2)).toEqual([6, 5]);
  });

  it('slots a late entry into place and drops one older than everything kept', () => {
    const ring = new ActionRing(4);
    for (const t of [10, 30, 20]) ring.add(t, CLICK, t);
    expect(times(ring)).toEqual([30, 20, 10]);
    for (const t of [40, 50, 25]) ring.add(t, CLICK, t);
    expect(entries(ring).map((e) => [e[0], e[2]])).toEqual([
      [50, 50],
      [40, 40],
      [30, 30],
      [25, 25],
    ]);
    ring.add(5, CLICK, 5);
    expect(times(ring)).toEqual([50, 40, 30, 25]);
  });

  it('orders equal times by arrival, the later first', () => {
    const ring = new ActionRing(2);
    for (const item of [1, 2, 3]) ring.add(item, CLICK, 100);
    expect(entries(ring).map((e) => e[0])).toEqual([3, 2]);
  });

  it('stays sorted and bounded under many arrivals, growing its arrays as it fills', () => {
    const ring = new ActionRing(50);
    const all: number[] = [];
    let seed = 1;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 48271) % 2147483647;
      // Mostly rising time with some late arrivals.
      const t = i * 10 - (seed % 100);
      all.push(t);
      ring.add(i, CLICK, t);
      if (i === 20) expect(times(ring)).toEqual([...all].sort((a, b) => b - a));
    }
    expect(ring.size).toBe(50);
    expect(times(ring)).toEqual(all.sort((a, b) => b - a).slice(0, 50));
  });

  it("keeps the rings of one arena apart while they grow into each other's old segments", () => {
    const arena = new RingArena();
    const rings = Array.from({ length: 300 }, (_, r) => new ActionRing(1 + (r % 130), arena));
    const expected = rings.map(() => [] as number[][]);
    let seed = 7;
    for (let step = 0; step < 40_000; step++) {
      seed = (seed * 48271) % 2147483647;
      const r = seed % rings.length;
      const entry = [step, step % 3, step * 10 - (seed % 50), seed % 5 ? r : NO_BOARD];
      rings[r].add(entry[0], entry[1], entry[2], entry[3]);
      expected[r].push(entry);
    }
    for (const [r, ring] of rings.entries()) {
      // Newest first by time, equal times the later added first; only the newest `capacity`.
      const want = expected[r]
        .map((e, order) => ({ e, order }))
        .sort((a, b) => b.e[2] - a.e[2] || b.order - a.order)
        .slice(0, ring.capacity)
        .map(({ e }) => e);
      expect(entries(ring)).toEqual(want);
    }
  });
});

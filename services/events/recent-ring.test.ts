import { describe, expect, it } from 'vitest';
import { RecentRing } from './recent-ring.js';

const times = (ring: RecentRing<{ timeMs: number }>, limit?: number) => ring.newestFirst(limit).map((e) => e.timeMs);

describe('RecentRing', () => {
  it('keeps the newest entries up to its capacity, newest first', () => {
    const ring = new RecentRing<{ timeMs: number }>(3);
    for (const t of [1, 2, 3, 4, 5]) ring.add({ timeMs: t });
    expect(ring.size).toBe(3);
    expect(times(ring)).toEqual([5, 4, 3]);
    expect(times(ring, 2)).toEqual([5, 4]);
  });

  it('slots a late entry into place and drops one older than everything kept', () => {
    const ring = new RecentRing<{ timeMs: number }>(4);
    for (const t of [10, 30, 20]) ring.add({ timeMs: t });
    expect(times(ring)).toEqual([30, 20, 10]);
    for (const t of [40, 50, 25]) ring.add({ timeMs: t });
    expect(times(ring)).toEqual([50, 40, 30, 25]);
    ring.add({ timeMs: 5 });
    expect(times(ring)).toEqual([50, 40, 30, 25]);
  });

  it('orders equal times by arrival, the later first', () => {
    const ring = new RecentRing<{ timeMs: number; id: string }>(2);
    ring.add({ timeMs: 1, id: 'a' });
    ring.add({ timeMs: 1, id: 'b' });
    ring.add({ timeMs: 1, id: 'c' });
    expect(ring.newestFirst().map((e) => e.id)).toEqual(['c', 'b']);
  });

  it('stays sorted under many random arrivals', () => {
    const ring = new RecentRing<{ timeMs: number }>(50);
    const all: number[] = [];
    let seed = 1;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 48271) % 2147483647;
      // Mostly rising time with some late arrivals.
      const t = i * 10 - (seed % 100);
      all.push(t);
      ring.add({ timeMs: t });
    }
    expect(times(ring)).toEqual(all.sort((a, b) => b - a).slice(0, 50));
  });
});

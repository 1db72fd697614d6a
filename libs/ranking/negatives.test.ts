import { describe, expect, it } from 'vitest';
import { NEGATIVES_PER_POSITIVE, sampleNegatives, type LoggedSession } from './negatives.js';

const DAY = 86_400_000;
const T0 = Date.UTC(1997, 8, 20);

// 40 items; i0..i9 are heavily interacted with on day 0, the rest never.
const catalog = Array.from({ length: 40 }, (_, i) => ({
  itemId: `i${i}`,
  createdMs: i < 38 ? T0 - DAY : T0 + 5 * DAY,
}));
const crowd: LoggedSession[] = Array.from({ length: 50 }, (_, u) => ({
  user: `c${u}`,
  session: `c${u}-s1`,
  startMs: T0 + 3600_000,
  items: [`i${u % 10}`],
  positive: [true],
}));

describe('sampleNegatives', () => {
  it('draws distinct items the user never touched up to then, led by earlier interaction counts, none that did not exist yet', () => {
    const user: LoggedSession[] = [
      { user: 'u1', session: 'u1-s1', startMs: T0 + DAY, items: ['i1', 'i2'], positive: [true, true] },
      { user: 'u1', session: 'u1-s2', startMs: T0 + 2 * DAY, items: ['i3', 'i20'], positive: [true, false] },
    ];
    const sessions = [...crowd, ...user];
    const out = sampleNegatives({ sessions, catalog, seed: 7 });
    const first = out[crowd.length];
    const second = out[crowd.length + 1];
    expect(first).toHaveLength(2 * NEGATIVES_PER_POSITIVE);
    expect(second).toHaveLength(NEGATIVES_PER_POSITIVE); // one positive; the shown-but-ignored item is not one
    for (const negatives of [first, second]) expect(new Set(negatives).size).toBe(negatives.length);
    expect(first).not.toContain('i1');
    expect(first).not.toContain('i2');
    for (const item of ['i1', 'i2', 'i3', 'i20']) expect(second).not.toContain(item);
    // i38, i39 appear on day 5: never a negative before.
    expect([...first, ...second].some((i) => i === 'i38' || i === 'i39')).toBe(false);
    // Crowd sessions on day 0 have no earlier counts: sampled uniformly over the items that existed.
    expect(out.slice(0, crowd.length).every((n) => n.length === NEGATIVES_PER_POSITIVE)).toBe(true);
    // After day 0, 90% of the mass is on i0..i9: most negatives come from them.
    const later = sampleNegatives({
      sessions: [
        ...crowd,
        ...Array.from({ length: 30 }, (_, k) => ({
          user: `v${k}`,
          session: 's',
          startMs: T0 + DAY,
          items: ['i30'],
          positive: [true],
        })),
      ],
      catalog,
      seed: 3,
    })
      .slice(crowd.length)
      .flat();
    const popular = later.filter((i) => Number(i.slice(1)) < 10).length;
    expect(popular / later.length).toBeGreaterThan(0.75);
  });

  it('is deterministic for a seed, and a session without positives gets none', () => {
    const sessions: LoggedSession[] = [
      ...crowd,
      { user: 'u9', session: 's', startMs: T0 + DAY, items: ['i4'], positive: [false] },
    ];
    const a = sampleNegatives({ sessions, catalog, seed: 11 });
    expect(sampleNegatives({ sessions, catalog, seed: 11 })).toEqual(a);
    expect(sampleNegatives({ sessions, catalog, seed: 12 })).not.toEqual(a);
    expect(a[crowd.length]).toEqual([]);
  });
});

// hour_of_day_popular: what is engaged with at the request's UTC hour (neighbours blended in).
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import generator, { utcHour } from './generator.js';

const HOUR_MS = 3_600_000;

describe('generator hour_of_day_popular', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  /** item -> weighted engagement (save 3, click 1) per UTC hour, straight from the log. */
  let byHour: Map<string, number[]>;

  beforeAll(async () => {
    const rows = await worldRows<{ item_id: string; hour: number; w: number }>(
      fixture.world,
      `SELECT item_id, hour(make_timestamp(time_ms * 1000)) AS hour, sum(CASE action WHEN 'save' THEN 3 ELSE 1 END) AS w
       FROM events WHERE action IN ('click', 'save') GROUP BY ALL`,
    );
    byHour = new Map();
    for (const r of rows) {
      if (!byHour.has(r.item_id)) byHour.set(r.item_id, new Array(24).fill(0));
      byHour.get(r.item_id)![r.hour] += r.w;
    }
  });

  const at = async (hour: number, quota = 20) =>
    (
      await fixture.served.generate(
        UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs + hour * HOUR_MS + 25 * 60_000 }),
        quota,
      )
    ).candidates.map((c) => c.itemId);
  /** Engagement of items within ±2 h of an hour of day. */
  const around = (items: string[], hour: number) =>
    items.reduce(
      (s, id) => s + [-2, -1, 0, 1, 2].reduce((t, d) => t + (byHour.get(id)?.[(hour + d + 24) % 24] ?? 0), 0),
      0,
    );

  it('answers differ by hour, and each hour gets what is engaged with around it', async () => {
    const [morning, evening] = [await at(6), await at(19)];
    expect(morning).toHaveLength(20);
    expect(evening).toHaveLength(20);
    expect(morning).not.toEqual(evening);
    expect(around(morning, 6)).toBeGreaterThan(around(evening, 6));
    expect(around(evening, 19)).toBeGreaterThan(around(morning, 19));
  });

  it('blends neighbouring hours: adjacent hours answer alike, distant ones less so', async () => {
    const overlap = (a: string[], b: string[]) => a.filter((id) => b.includes(id)).length;
    const [h19, h20, h7] = [await at(19, 50), await at(20, 50), await at(7, 50)];
    expect(overlap(h19, h20)).toBeGreaterThan(overlap(h19, h7));
    expect(utcHour(fixture.endMs + 19 * HOUR_MS + 59 * 60_000)).toBe(19);
  });

  it('uses the whole day when the request carries no clock', async () => {
    const { candidates } = await fixture.served.generate(UserContext.fromPartial({ userId: 'nobody_new' }), 20);
    expect(candidates).toHaveLength(20);
    expect(candidates.every((c) => c.reason === 'popular all day')).toBe(true);
  });

  it('leaves out what real users engaged with, best first, within the quota', async () => {
    for (const { user, candidates } of await fixture.answers(30)) {
      expectUnseenBestFirst(user, candidates, 30);
      expect(candidates[0].reason).toBe(
        `popular around ${String(utcHour(user.requestTimeMs)).padStart(2, '0')}:00 UTC`,
      );
    }
  });
});

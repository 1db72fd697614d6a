import { createHash } from 'node:crypto';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { DAY_MS } from '../../../libs/data/world.js';

/** Who engaged with what on the test day: the relevant items recall is measured against. */
export async function testDayEngagements(
  worldDir: string,
  dayStartMs: number,
  maxUsers: number,
): Promise<Map<string, Set<string>>> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir);
    const rows = await queryRows<{ user_id: string; items: string[] }>(
      duck.conn,
      `SELECT user_id, list(DISTINCT item_id) AS items FROM events
       WHERE action IN ('click', 'save') AND time_ms >= ${dayStartMs} AND time_ms < ${dayStartMs + DAY_MS}
       GROUP BY user_id`,
    );
    // A fixed pseudo-random sample, the same on every run.
    const key = (u: string) => createHash('sha1').update(u).digest('hex');
    rows.sort((a, b) => (key(a.user_id) < key(b.user_id) ? -1 : 1));
    return new Map(rows.slice(0, maxUsers).map((r) => [r.user_id, new Set(r.items)]));
  } finally {
    duck.close();
  }
}

import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { sqlString } from '../../../libs/data/duck.js';
import { sessionTransitions, type SessionTransitionRow } from '../../../libs/data/batch/jobs/session_transitions.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { worldRows } from '../../../test/fixtures/events.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator, { lastEngaged } from './generator.js';

describe('generator session_next', () => {
  const fixture = useServedGenerator(generator, { users: 8 });
  let transitions: Map<string, SessionTransitionRow['next']>;

  beforeAll(async () => {
    const rows = (await readSnapshot(snapshotsOf(fixture.world), sessionTransitions)).rows;
    transitions = new Map(rows.map((r) => [r.item_id, r.next]));
  });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('session_next');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'session_transitions', rows: transitions.size })]);
  });

  it('has transitions that really happened: b engaged right after a in one session', async () => {
    // Check the snapshot's strongest transitions against the raw event log.
    const strongest = [...transitions]
      .map(([a, next]) => ({ a, b: next[0].item_id, score: next[0].score }))
      .sort((x, y) => y.score - x.score)
      .slice(0, 10);
    const pairs = strongest.map(({ a, b }) => `(${sqlString(a)}, ${sqlString(b)})`).join(', ');
    const counts = await worldRows<{ a: string; b: string; n: number }>(
      fixture.world,
      `SELECT p.a, p.b, count(y.item_id) AS n FROM (VALUES ${pairs}) p(a, b)
       LEFT JOIN events x ON x.item_id = p.a AND x.action IN ('click','save')
       LEFT JOIN events y ON y.user_id = x.user_id AND y.session_id = x.session_id AND y.item_id = p.b AND y.action IN ('click','save') AND y.time_ms > x.time_ms
       GROUP BY p.a, p.b`,
    );
    expect(counts).toHaveLength(strongest.length);
    for (const { a, b, n } of counts) expect(n, `${a} → ${b}`).toBeGreaterThan(0);
  });

  it("proposes what followed the user's last item in sessions, strongest transition first", async () => {
    // The item with the most recorded successors, as the only thing a user clicked.
    const [item, next] = [...transitions].sort((x, y) => y[1].length - x[1].length || (x[0] < y[0] ? -1 : 1))[0];
    expect(next.length).toBeGreaterThan(1);
    const user = UserContext.fromPartial({
      userId: 'probe',
      requestTimeMs: Date.UTC(2026, 0, 9),
      recentActions: [{ itemId: item, type: ActionType.ACTION_TYPE_CLICK, timeMs: Date.UTC(2026, 0, 8) }],
    });
    const { candidates } = await fixture.served.generate(user, 100);
    expect(candidates.map((c) => c.itemId)).toEqual(next.map((n) => n.item_id));
  });

  it("returns only successors of active users' last few items, mostly the newest item's first, none engaged", async () => {
    let answered = 0;
    let newestCounted = 0;
    let newestFirst = 0;
    for (const { user, candidates } of await fixture.answers(100)) {
      const last = lastEngaged(user, 10);
      const allowed = new Set(last.flatMap((i) => (transitions.get(i) ?? []).map((n) => n.item_id)));
      expectUnseenBestFirst(user, candidates, 100, { allowEmpty: true });
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      const engaged = engagedItems(user);
      if (candidates.length > 0) answered++;
      // When the newest item's strongest successor is still unengaged, it scores 1 and older items'
      // successors at most 0.8 each: the top pick is usually one of the newest item's successors.
      const newest = (transitions.get(last[0]) ?? []).map((n) => n.item_id);
      if (newest.length > 0 && !engaged.has(newest[0])) {
        newestCounted++;
        if (newest.includes(candidates[0].itemId)) newestFirst++;
      }
    }
    expect(answered).toBeGreaterThan(fixture.users.length / 2);
    expect(newestCounted).toBeGreaterThan(0);
    expect(newestFirst / newestCounted).toBeGreaterThan(0.5);
  });

  it('answers nothing, without an error, for a user with no history', async () => {
    const response = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without sessions (empty snapshot)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import generator, { lastEngaged } from './generator.js';

interface TransitionRow {
  item_id: string;
  next: { item_id: string; score: number }[];
}

describe('generator session_next', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let world: string;
  let transitions: Map<string, TransitionRow['next']>;

  beforeAll(async () => {
    world = await testWorld();
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 8);
    const rows = (await readSnapshot<TransitionRow>(snapshotsOf(world), 'session_transitions')).rows;
    transitions = new Map(rows.map((r) => [r.item_id, r.next]));
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe('session_next');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'session_transitions', rows: transitions.size })]);
  });

  it('has transitions that really happened: b engaged right after a in one session', async () => {
    // Check the snapshot's strongest transitions against the raw event log.
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const strongest = [...transitions].map(([a, next]) => ({ a, b: next[0].item_id, score: next[0].score })).sort((x, y) => y.score - x.score).slice(0, 10);
      for (const { a, b } of strongest) {
        const [{ n }] = await queryRows<{ n: number }>(
          duck.conn,
          `SELECT count(*) AS n FROM events x JOIN events y ON x.user_id = y.user_id AND x.session_id = y.session_id
           WHERE x.item_id = '${a}' AND y.item_id = '${b}' AND x.action IN ('click','save') AND y.action IN ('click','save') AND y.time_ms > x.time_ms`,
        );
        expect(n, `${a} → ${b}`).toBeGreaterThan(0);
      }
    } finally {
      duck.close();
    }
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
    const { candidates } = await served.generate(user, 100);
    expect(candidates.map((c) => c.itemId)).toEqual(next.map((n) => n.item_id));
  });

  it("returns only successors of active users' last few items, mostly the newest item's first, none engaged", async () => {
    let answered = 0;
    let newestCounted = 0;
    let newestFirst = 0;
    for (const userId of users) {
      const user = await events.context(userId);
      const last = lastEngaged(user, 10);
      const allowed = new Set(last.flatMap((i) => (transitions.get(i) ?? []).map((n) => n.item_id)));
      const { candidates } = await served.generate(user, 100);
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      const engaged = engagedItems(user);
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      if (candidates.length > 0) answered++;
      // When the newest item's strongest successor is still unengaged, it scores 1 and older items'
      // successors at most 0.8 each: the top pick is usually one of the newest item's successors.
      const newest = (transitions.get(last[0]) ?? []).map((n) => n.item_id);
      if (newest.length > 0 && !engaged.has(newest[0])) {
        newestCounted++;
        if (newest.includes(candidates[0].itemId)) newestFirst++;
      }
    }
    expect(answered).toBeGreaterThan(users.length / 2);
    expect(newestCounted).toBeGreaterThan(0);
    expect(newestFirst / newestCounted).toBeGreaterThan(0.5);
  });

  it('answers nothing, without an error, for a user with no history', async () => {
    const response = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }), 20);
    expect(response.candidates).toEqual([]);
  });

  it('answers nothing for a world without sessions (empty snapshot)', async () => {
    const data = generator.prepare!({ session_transitions: [] }, {});
    const user = await events.context(users[0]);
    const result = await generator.generate({ user, quota: 20, requestId: 't' }, { data, settings: {}, signal: new AbortController().signal });
    expect(result).toEqual([]);
  });
});

// cold_start: a user with no history gets top items spread round-robin over their topics
// (the biggest topics when they have none), diversified by creator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator cold_start', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let endMs: number;
  let item: Map<string, { topic: string; creator_id: string }>;
  /** Topics by weighted engagement (save 3, click 1, half-life 7 days), biggest first. */
  let topicsByEngagement: string[];
  /** Per topic, items by that engagement, best first: plain popularity. */
  let plainTop: Map<string, string[]>;

  beforeAll(async () => {
    const world = await testWorld();
    const manifest = await readWorldManifest(world);
    endMs = manifest.startMs + manifest.days * DAY_MS;
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 5);
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      item = new Map((await queryRows<{ item_id: string; topic: string; creator_id: string }>(duck.conn, 'SELECT item_id, topic, creator_id FROM items')).map((r) => [r.item_id, r]));
      const engagement = await queryRows<{ topic: string; item_id: string; w: number }>(
        duck.conn,
        `SELECT i.topic, e.item_id, sum(CASE e.action WHEN 'save' THEN 3 ELSE 1 END * pow(0.5, (${endMs} - e.time_ms) / ${7 * DAY_MS})) AS w
         FROM events e JOIN items i USING (item_id) WHERE e.action IN ('click', 'save') GROUP BY ALL ORDER BY w DESC, e.item_id`,
      );
      plainTop = new Map();
      const totals = new Map<string, number>();
      for (const r of engagement) {
        if (!plainTop.has(r.topic)) plainTop.set(r.topic, []);
        plainTop.get(r.topic)!.push(r.item_id);
        totals.set(r.topic, (totals.get(r.topic) ?? 0) + r.w);
      }
      topicsByEngagement = [...totals].sort((a, b) => b[1] - a[1]).map(([t]) => t);
    } finally {
      duck.close();
    }
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  const newcomer = (topics: string[]) => UserContext.fromPartial({ userId: 'nobody_new', topics, requestTimeMs: endMs });

  it('answers a user with no history with items spread evenly over their onboarding topics', async () => {
    const topics = ['t01', 't04', 't06'];
    const { candidates } = await served.generate(newcomer(topics), 30);
    expect(candidates).toHaveLength(30);
    const topicOf = candidates.map((c) => item.get(c.itemId)!.topic);
    // Round-robin: every block of three holds one item of each topic, in the order given.
    for (let i = 0; i < 30; i += 3) expect(topicOf.slice(i, i + 3)).toEqual(topics);
    const scores = candidates.map((c) => c.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('spreads each topic over more creators than plain popularity does', async () => {
    const { candidates } = await served.generate(newcomer(['t00']), 10);
    const creators = (ids: string[]) => new Set(ids.map((id) => item.get(id)!.creator_id)).size;
    expect(candidates.every((c) => item.get(c.itemId)!.topic === 't00')).toBe(true);
    expect(creators(candidates.map((c) => c.itemId))).toBeGreaterThan(creators(plainTop.get('t00')!.slice(0, 10)));
  });

  it('falls back to the biggest topics for a user without topics', async () => {
    const { candidates } = await served.generate(newcomer([]), 25);
    expect(candidates).toHaveLength(25);
    const topics = new Set(candidates.map((c) => item.get(c.itemId)!.topic));
    expect(topics).toEqual(new Set(topicsByEngagement.slice(0, 5)));
  });

  it('leaves out what real users engaged with', async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const { candidates } = await served.generate(user, 50);
      expect(candidates.length).toBeGreaterThan(0);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
    }
  });

  it('answers nothing for a world without topics', async () => {
    const imported = await serveOnImportedWorld(generator);
    try {
      expect((await imported.generate(UserContext.fromPartial({ userId: 'new' }), 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

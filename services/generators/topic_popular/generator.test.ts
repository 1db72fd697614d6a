// topic_popular: each topic's popular items, over the user's declared and engaged topics,
// interleaved by topic weight; nothing for a world without topics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { IMPORTED_RATINGS, serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

type Scored = { item_id: string; score: number };

describe('generator topic_popular', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let endMs: number;
  let topicOf: Map<string, string>;
  let lists: Map<string, Scored[]>;

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
      topicOf = new Map((await queryRows<{ item_id: string; topic: string }>(duck.conn, 'SELECT item_id, topic FROM items')).map((r) => [r.item_id, r.topic]));
    } finally {
      duck.close();
    }
    lists = new Map((await readSnapshot<{ topic: string; items: Scored[] }>(snapshotsOf(world), 'topic_popular')).rows.map((r) => [r.topic, r.items]));
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  const topicsOf = (ids: string[]) => ids.map((id) => topicOf.get(id)!);

  it('interleaves equally weighted topics, each from the top of its popular list', async () => {
    const user = UserContext.fromPartial({ userId: 'nobody_new', topics: ['t00', 't03'], requestTimeMs: endMs });
    const { candidates } = await served.generate(user, 20);
    expect(candidates).toHaveLength(20);
    const ids = candidates.map((c) => c.itemId);
    expect(topicsOf(ids).filter((t) => t === 't00')).toHaveLength(10);
    expect(topicsOf(ids).filter((t) => t === 't03')).toHaveLength(10);
    // Within a topic, in the order of its popularity list.
    expect(ids.filter((id) => topicOf.get(id) === 't00')).toEqual(lists.get('t00')!.slice(0, 10).map((r) => r.item_id));
    expect(ids.filter((id) => topicOf.get(id) === 't03')).toEqual(lists.get('t03')!.slice(0, 10).map((r) => r.item_id));
  });

  it('weighs the topics the user engages with now, declared or not', async () => {
    // Declared t00 only, but saving t03 items lately: t03 joins and outweighs t00.
    const saved = lists.get('t03')!.slice(20, 26).map((r) => r.item_id);
    const user = UserContext.fromPartial({
      userId: 'nobody_new',
      topics: ['t00'],
      requestTimeMs: endMs,
      recentActions: saved.map((itemId, i) => ({ itemId, type: ActionType.ACTION_TYPE_SAVE, timeMs: endMs - (i + 1) * 3_600_000 })),
    });
    const { candidates } = await served.generate(user, 30);
    const topics = topicsOf(candidates.map((c) => c.itemId));
    expect(new Set(topics)).toEqual(new Set(['t00', 't03']));
    expect(topics.filter((t) => t === 't03').length).toBeGreaterThan(topics.filter((t) => t === 't00').length * 1.5);
    expect(candidates.filter((c) => saved.includes(c.itemId))).toEqual([]);
  });

  it("proposes only items of real users' topics, best first, nothing they engaged with", async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const { candidates } = await served.generate(user, 50);
      expect(candidates.length).toBeGreaterThan(0);
      const engagedTopics = new Set(user.recentActions.filter((a) => a.type !== ActionType.ACTION_TYPE_HIDE).map((a) => topicOf.get(a.itemId)));
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      for (const c of candidates) {
        const topic = topicOf.get(c.itemId)!;
        expect(user.topics.includes(topic) || engagedTopics.has(topic)).toBe(true);
        expect(engaged.has(c.itemId)).toBe(false);
      }
      const scores = candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
  });

  it('answers a user without topics or history with nothing, and a world without topics too', async () => {
    expect((await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: endMs }), 20)).candidates).toEqual([]);

    const imported = await serveOnImportedWorld(generator, [...IMPORTED_RATINGS, '3,11,2,1000003000']);
    try {
      expect((await imported.describe()).snapshots.find((s) => s.name === 'topic_popular')?.rows).toBe(0);
      const user = UserContext.fromPartial({ userId: '1', topics: ['t00'], recentActions: [{ itemId: '10', type: ActionType.ACTION_TYPE_SAVE, timeMs: 1_000_000_000_000 }] });
      expect((await imported.generate(user, 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { startSyntheticLearnedBackend } from '../../../test/fixtures/learned-backend.js';
import generator from './generator.js';

describe(`generator ${generator.name}`, () => {
  let backend: Awaited<ReturnType<typeof startSyntheticLearnedBackend>>;
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  const servedBy: Record<string, string> = { a: 'v0001', b: 'v0002' };
  const t = Date.UTC(2026, 0, 20, 12);

  beforeAll(async () => {
    const world = await testWorld();
    backend = await startSyntheticLearnedBackend({ worldDir: world, versions: 2, serve: servedBy });
    served = await startGeneratorForTest(generator, snapshotsOf(world), backend.settings);
    events = await startTestEvents(world);
    users = await activeUsers(world, 5);
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
    await backend?.stop();
  });

  it("proposes fresh candidates for active users, in the answering host's version", async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const res = await served.generate(user, 50);
      expect(res.candidates.length).toBeGreaterThan(0);
      expect(res.candidates.length).toBeLessThanOrEqual(50);
      const host = /ann\.(\w+)\)$/.exec(res.candidates[0].reason)![1];
      expect(res.modelVersion).toBe(servedBy[host]);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      expect(res.candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
    }
  });

  it('gives each of two distinct interests a place near the top', async () => {
    // Three saves in one topic, three in another: two clusters, both represented in the top 10.
    const byTopic = new Map<string, string[]>();
    for (const r of backend.rows) if (r.topic) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.item_id]);
    const [topicA, topicB] = [...byTopic.keys()].filter((k) => byTopic.get(k)!.length >= 10);
    const history = [...byTopic.get(topicA)!.slice(0, 3), ...byTopic.get(topicB)!.slice(0, 3)];
    const user = UserContext.fromPartial({
      userId: 'two_interests',
      requestTimeMs: t,
      recentActions: history.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_SAVE,
        timeMs: t - (i + 1) * 60_000,
      })),
    });
    const res = await served.generate(user, 10);
    const topicOf = new Map(backend.rows.map((r) => [r.item_id, r.topic]));
    const topics = new Set(res.candidates.map((c) => topicOf.get(c.itemId)));
    expect(topics).toContain(topicA);
    expect(topics).toContain(topicB);
    expect(new Set(res.candidates.map((c) => c.reason.replace(/ \(.*$/, ''))).size).toBe(2);
  });

  it('returns nothing (no error) for a user without engagements', async () => {
    const res = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: t }), 20);
    expect(res.candidates).toEqual([]);
  });
});

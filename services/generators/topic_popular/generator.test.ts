// topic_popular: each topic's popular items, over the user's declared and engaged topics,
// interleaved by topic weight; nothing for a world without topics.
import { beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import type { ScoredItem } from '../../../libs/data/batch/job.js';
import { topicPopular } from '../../../libs/data/batch/jobs/topic_popular.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { IMPORTED_RATINGS, serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator topic_popular', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let topicOf: Map<string, string>;
  let lists: Map<string, ScoredItem[]>;

  beforeAll(async () => {
    topicOf = new Map(
      (await worldRows<{ item_id: string; topic: string }>(fixture.world, 'SELECT item_id, topic FROM items')).map(
        (r) => [r.item_id, r.topic],
      ),
    );
    lists = new Map((await readSnapshot(snapshotsOf(fixture.world), topicPopular)).rows.map((r) => [r.topic, r.items]));
  });

  const topicsOf = (ids: string[]) => ids.map((id) => topicOf.get(id)!);

  it('interleaves equally weighted topics, each from the top of its popular list', async () => {
    const user = UserContext.fromPartial({
      userId: 'nobody_new',
      topics: ['t00', 't03'],
      requestTimeMs: fixture.endMs,
    });
    const { candidates } = await fixture.served.generate(user, 20);
    expect(candidates).toHaveLength(20);
    const ids = candidates.map((c) => c.itemId);
    expect(topicsOf(ids).filter((t) => t === 't00')).toHaveLength(10);
    expect(topicsOf(ids).filter((t) => t === 't03')).toHaveLength(10);
    // Within a topic, in the order of its popularity list.
    expect(ids.filter((id) => topicOf.get(id) === 't00')).toEqual(
      lists
        .get('t00')!
        .slice(0, 10)
        .map((r) => r.item_id),
    );
    expect(ids.filter((id) => topicOf.get(id) === 't03')).toEqual(
      lists
        .get('t03')!
        .slice(0, 10)
        .map((r) => r.item_id),
    );
  });

  it('weighs the topics the user engages with now, declared or not', async () => {
    // Declared t00 only, but saving t03 items lately: t03 joins and outweighs t00.
    const saved = lists
      .get('t03')!
      .slice(20, 26)
      .map((r) => r.item_id);
    const user = UserContext.fromPartial({
      userId: 'nobody_new',
      topics: ['t00'],
      requestTimeMs: fixture.endMs,
      recentActions: saved.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_SAVE,
        timeMs: fixture.endMs - (i + 1) * 3_600_000,
      })),
    });
    const { candidates } = await fixture.served.generate(user, 30);
    const topics = topicsOf(candidates.map((c) => c.itemId));
    expect(new Set(topics)).toEqual(new Set(['t00', 't03']));
    expect(topics.filter((t) => t === 't03').length).toBeGreaterThan(topics.filter((t) => t === 't00').length * 1.5);
    expect(candidates.filter((c) => saved.includes(c.itemId))).toEqual([]);
  });

  it("proposes only items of real users' topics, best first, nothing they engaged with", async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
      const engagedTopics = new Set(
        user.recentActions.filter((a) => a.type !== ActionType.ACTION_TYPE_HIDE).map((a) => topicOf.get(a.itemId)),
      );
      for (const c of candidates) {
        const topic = topicOf.get(c.itemId)!;
        expect(user.topics.includes(topic) || engagedTopics.has(topic)).toBe(true);
      }
    }
  });

  it('answers a user without topics or history with nothing, and a world without topics too', async () => {
    expect(
      (
        await fixture.served.generate(
          UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: fixture.endMs }),
          20,
        )
      ).candidates,
    ).toEqual([]);

    const imported = await serveOnImportedWorld(generator, [...IMPORTED_RATINGS, '3,11,2,1000003000']);
    try {
      expect((await imported.describe()).snapshots.find((s) => s.name === 'topic_popular')?.rows).toBe(0);
      const user = UserContext.fromPartial({
        userId: '1',
        topics: ['t00'],
        recentActions: [{ itemId: '10', type: ActionType.ACTION_TYPE_SAVE, timeMs: 1_000_000_000_000 }],
      });
      expect((await imported.generate(user, 20)).candidates).toEqual([]);
    } finally {
      await imported.stop();
    }
  });
});

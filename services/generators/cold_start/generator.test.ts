// cold_start: a user with no history gets top items spread round-robin over their topics
// (the biggest topics when they have none), diversified by creator.
import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { DAY_MS } from '../../../libs/data/world.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { expectUnseenBestFirst, useServedGenerator } from '../../../test/fixtures/generator.js';
import { serveOnImportedWorld } from '../../../test/fixtures/imported.js';
import generator from './generator.js';

describe('generator cold_start', () => {
  const fixture = useServedGenerator(generator, { users: 5 });
  let item: Map<string, { topic: string; creator_id: string }>;
  /** Topics by weighted engagement (save 3, click 1, half-life 7 days), biggest first. */
  let topicsByEngagement: string[];
  /** Per topic, items by that engagement, best first: plain popularity. */
  let plainTop: Map<string, string[]>;

  beforeAll(async () => {
    const { world, endMs } = fixture;
    item = new Map(
      (
        await worldRows<{ item_id: string; topic: string; creator_id: string }>(
          world,
          'SELECT item_id, topic, creator_id FROM items',
        )
      ).map((r) => [r.item_id, r]),
    );
    const engagement = await worldRows<{ topic: string; item_id: string; w: number }>(
      world,
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
  });

  const newcomer = (topics: string[]) =>
    UserContext.fromPartial({ userId: 'nobody_new', topics, requestTimeMs: fixture.endMs });

  it('answers a user with no history with items spread evenly over their onboarding topics', async () => {
    const topics = ['t01', 't04', 't06'];
    const { candidates } = await fixture.served.generate(newcomer(topics), 30);
    expect(candidates).toHaveLength(30);
    const topicOf = candidates.map((c) => item.get(c.itemId)!.topic);
    // Round-robin: every block of three holds one item of each topic, in the order given.
    for (let i = 0; i < 30; i += 3) expect(topicOf.slice(i, i + 3)).toEqual(topics);
    const scores = candidates.map((c) => c.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('spreads each topic over more creators than plain popularity does', async () => {
    const { candidates } = await fixture.served.generate(newcomer(['t00']), 10);
    const creators = (ids: string[]) => new Set(ids.map((id) => item.get(id)!.creator_id)).size;
    expect(candidates.every((c) => item.get(c.itemId)!.topic === 't00')).toBe(true);
    expect(creators(candidates.map((c) => c.itemId))).toBeGreaterThan(creators(plainTop.get('t00')!.slice(0, 10)));
  });

  it('falls back to the biggest topics for a user without topics', async () => {
    const { candidates } = await fixture.served.generate(newcomer([]), 25);
    expect(candidates).toHaveLength(25);
    const topics = new Set(candidates.map((c) => item.get(c.itemId)!.topic));
    expect(topics).toEqual(new Set(topicsByEngagement.slice(0, 5)));
  });

  it('leaves out what real users engaged with', async () => {
    for (const { user, candidates } of await fixture.answers(50)) {
      expectUnseenBestFirst(user, candidates, 50);
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import generator from './generator.js';

interface CuratorSavesRow {
  creator_id: string;
  items: { item_id: string; time_ms: number }[];
}

describe('generator followed_curators', () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let world: string;
  let saves: Map<string, CuratorSavesRow['items']>;

  beforeAll(async () => {
    world = await testWorld();
    served = await startGeneratorForTest(generator, snapshotsOf(world));
    events = await startTestEvents(world);
    users = await activeUsers(world, 20);
    saves = new Map((await readSnapshot<CuratorSavesRow>(snapshotsOf(world), 'curator_saves')).rows.map((r) => [r.creator_id, r.items]));
  });
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe('followed_curators');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'curator_saves', rows: saves.size })]);
  });

  it("holds what creators' own accounts saved, newest first", async () => {
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const pins = await queryRows<{ creator_id: string; item_id: string }>(
        duck.conn,
        `SELECT c.creator_id, bi.item_id FROM board_items bi JOIN boards b USING (board_id) JOIN creators c ON c.user_id = b.owner_user_id
         UNION SELECT c.creator_id, e.item_id FROM events e JOIN creators c ON c.user_id = e.user_id WHERE e.action = 'save'`,
      );
      const saved = new Set(pins.map((p) => `${p.creator_id} ${p.item_id}`));
      for (const [creator, items] of saves) {
        expect(items.every((i) => saved.has(`${creator} ${i.item_id}`))).toBe(true);
        expect(items.map((i) => i.time_ms)).toEqual([...items.map((i) => i.time_ms)].sort((a, b) => b - a));
      }
    } finally {
      duck.close();
    }
  });

  it('returns only items saved by creators the user follows, newer saves first, none engaged', async () => {
    let answered = 0;
    for (const userId of users) {
      const user = await events.context(userId);
      const followed = user.followedCreators.filter((c) => saves.has(c));
      const allowed = new Set(followed.flatMap((c) => saves.get(c)!.map((i) => i.item_id)));
      const { candidates } = await served.generate(user, 100);
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      const engaged = engagedItems(user);
      expect(candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      if (followed.length > 0) {
        expect(candidates.length).toBeGreaterThan(0);
        answered++;
        // From a single curator's list, a newer save never ranks below an older one.
        const rank = new Map(candidates.map((c, k) => [c.itemId, k]));
        for (const c of followed) {
          const alsoElsewhere = (itemId: string) => followed.some((o) => o !== c && saves.get(o)!.some((i) => i.item_id === itemId));
          const solo = saves.get(c)!.filter((i) => rank.has(i.item_id) && !alsoElsewhere(i.item_id)).map((i) => rank.get(i.item_id)!);
          expect(solo).toEqual([...solo].sort((a, b) => a - b));
        }
      } else {
        expect(candidates).toEqual([]);
      }
    }
    expect(answered).toBeGreaterThan(0);
  });

  it('answers nothing for a user who follows no curator, and for an unknown user', async () => {
    const notCurators = UserContext.fromPartial({ userId: 'probe', requestTimeMs: Date.UTC(2026, 0, 9), followedCreators: ['c_without_account'] });
    expect((await served.generate(notCurators, 20)).candidates).toEqual([]);
    const nobody = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }), 20);
    expect(nobody.candidates).toEqual([]);
  });

  it('answers nothing for a world without creators (empty snapshot)', async () => {
    const data = generator.prepare!({ curator_saves: [] }, {});
    const user = await events.context(users[0]);
    const result = await generator.generate({ user, quota: 20, requestId: 't' }, { data, settings: {}, signal: new AbortController().signal });
    expect(result).toEqual([]);
  });
});

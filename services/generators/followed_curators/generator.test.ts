import { beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { curatorSaves, type CuratorSavesRow } from '../../../libs/data/batch/jobs/curator_saves.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { worldRows } from '../../../test/fixtures/events.js';
import {
  expectUnseenBestFirst,
  generateOnEmptySnapshots,
  useServedGenerator,
} from '../../../test/fixtures/generator.js';
import { snapshotsOf } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe('generator followed_curators', () => {
  const fixture = useServedGenerator(generator, { users: 20 });
  let saves: Map<string, CuratorSavesRow['items']>;

  beforeAll(async () => {
    saves = new Map(
      (await readSnapshot(snapshotsOf(fixture.world), curatorSaves)).rows.map((r) => [r.creator_id, r.items]),
    );
  });

  it('describes itself', async () => {
    const about = await fixture.served.describe();
    expect(about.name).toBe('followed_curators');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: 'curator_saves', rows: saves.size })]);
  });

  it("holds what creators' own accounts saved, newest first", async () => {
    const pins = await worldRows<{ creator_id: string; item_id: string }>(
      fixture.world,
      `SELECT c.creator_id, bi.item_id FROM board_items bi JOIN boards b USING (board_id) JOIN creators c ON c.user_id = b.owner_user_id
       UNION SELECT c.creator_id, e.item_id FROM events e JOIN creators c ON c.user_id = e.user_id WHERE e.action = 'save'`,
    );
    const saved = new Set(pins.map((p) => `${p.creator_id} ${p.item_id}`));
    for (const [creator, items] of saves) {
      expect(items.every((i) => saved.has(`${creator} ${i.item_id}`))).toBe(true);
      expect(items.map((i) => i.time_ms)).toEqual([...items.map((i) => i.time_ms)].sort((a, b) => b - a));
    }
  });

  it('returns only items saved by creators the user follows, newer saves first, none engaged', async () => {
    let answered = 0;
    for (const { user, candidates } of await fixture.answers(100)) {
      const followed = user.followedCreators.filter((c) => saves.has(c));
      const allowed = new Set(followed.flatMap((c) => saves.get(c)!.map((i) => i.item_id)));
      expectUnseenBestFirst(user, candidates, 100, { allowEmpty: followed.length === 0 });
      expect(candidates.filter((c) => !allowed.has(c.itemId))).toEqual([]);
      if (followed.length > 0) {
        answered++;
        // From a single curator's list, a newer save never ranks below an older one.
        const rank = new Map(candidates.map((c, k) => [c.itemId, k]));
        for (const c of followed) {
          const alsoElsewhere = (itemId: string) =>
            followed.some((o) => o !== c && saves.get(o)!.some((i) => i.item_id === itemId));
          const solo = saves
            .get(c)!
            .filter((i) => rank.has(i.item_id) && !alsoElsewhere(i.item_id))
            .map((i) => rank.get(i.item_id)!);
          expect(solo).toEqual([...solo].sort((a, b) => a - b));
        }
      } else {
        expect(candidates).toEqual([]);
      }
    }
    expect(answered).toBeGreaterThan(0);
  });

  it('answers nothing for a user who follows no curator, and for an unknown user', async () => {
    const notCurators = UserContext.fromPartial({
      userId: 'probe',
      requestTimeMs: Date.UTC(2026, 0, 9),
      followedCreators: ['c_without_account'],
    });
    expect((await fixture.served.generate(notCurators, 20)).candidates).toEqual([]);
    const nobody = await fixture.served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(nobody.candidates).toEqual([]);
  });

  it('answers nothing for a world without creators (empty snapshot)', async () => {
    const user = await fixture.events.context(fixture.users[0]);
    expect(await generateOnEmptySnapshots(generator, user)).toEqual([]);
  });
});

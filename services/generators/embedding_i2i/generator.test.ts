import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../../generated/feedloom/v1/common.js';
import { AnnSearchClient } from '../../../generated/feedloom/v1/ann.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
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

  it("proposes fresh candidates from the engaged items, in the answering host's version", async () => {
    for (const userId of users) {
      const user = await events.context(userId);
      const res = await served.generate(user, 50);
      expect(res.candidates.length).toBeGreaterThan(0);
      expect(res.candidates.length).toBeLessThanOrEqual(50);
      const host = /ann\.(\w+)\)$/.exec(res.candidates[0].reason)![1];
      expect(res.modelVersion).toBe(servedBy[host]);
      const engaged = new Set(user.recentActions.map((a) => a.itemId));
      expect(res.candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
      const scores = res.candidates.map((c) => c.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    }
  });

  it('a single saved item brings back its nearest neighbours in the item space', async () => {
    const seed = backend.rows[11].item_id;
    const user = UserContext.fromPartial({
      userId: 'one_save',
      requestTimeMs: t,
      recentActions: [{ itemId: seed, type: ActionType.ACTION_TYPE_SAVE, timeMs: t - 60_000 }],
    });
    const res = await served.generate(user, 10);
    const host = /ann\.(\w+)\)$/.exec(res.candidates[0].reason)![1];
    // Exactly the seed's neighbours in that version, from the same host, minus the seed itself.
    const client = connect(AnnSearchClient, backend.hosts.find((h) => h.ann.name === host)!.address);
    try {
      const version = servedBy[host];
      const [{ vector }] = (
        await callUnary(
          client,
          'getItemVectors',
          { model: 'two_tower', version, itemIds: [seed] },
          { timeoutMs: 5_000 },
        )
      ).vectors;
      const direct = await callUnary(
        client,
        'search',
        { model: 'two_tower', version, vector, k: 11, excludeItems: [seed], efSearch: 0, nprobe: 0 },
        { timeoutMs: 5_000 },
      );
      expect(res.candidates.map((c) => c.itemId)).toEqual(direct.neighbors.slice(0, 10).map((n) => n.itemId));
    } finally {
      client.close();
    }
  });

  it('returns nothing (no error) for a user without engagements', async () => {
    const res = await served.generate(UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: t }), 20);
    expect(res.candidates).toEqual([]);
  });
});

import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { startSyntheticLearnedBackend } from '../../../test/fixtures/learned-backend.js';
import generator from './generator.js';

describe(`generator ${generator.name}`, () => {
  let backend: Awaited<ReturnType<typeof startSyntheticLearnedBackend>>;
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let unsynced: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  const servedBy: Record<string, string> = { a: 'v0001', b: 'v0002' };

  beforeAll(async () => {
    const world = await testWorld();
    // Two versions side by side: host a serves v0001, host b v0002; the viewer holds both.
    backend = await startSyntheticLearnedBackend({ worldDir: world, versions: 2, serve: servedBy });
    served = await startGeneratorForTest(generator, snapshotsOf(world), backend.settings);
    unsynced = await startGeneratorForTest(generator, snapshotsOf(world), { ...backend.settings, unsynced: true });
    events = await startTestEvents(world);
    users = await activeUsers(world, 6);
  });
  afterAll(async () => {
    await served?.stop();
    await unsynced?.stop();
    await events?.stop();
    await backend?.stop();
  });

  it('describes itself as learned', async () => {
    const about = await served.describe();
    expect(about.name).toBe('two_tower');
    expect(about.kind).toBe(1);
    expect(about.description).not.toBe('');
  });

  it('embeds with the version of the host that answers, on every request, across hosts', async () => {
    const seenHosts = new Set<string>();
    for (const userId of users) {
      for (let i = 0; i < 2; i++) {
        const user = await events.context(userId);
        const res = await served.generate(user, 50);
        expect(res.candidates.length).toBeGreaterThan(0);
        expect(res.candidates.length).toBeLessThanOrEqual(50);
        const host = /ann\.(\w+)\)$/.exec(res.candidates[0].reason)![1];
        seenHosts.add(host);
        // The user embedding and the index are the same version: the one the answering host serves.
        expect(res.modelVersion).toBe(servedBy[host]);
        const engaged = new Set(user.recentActions.map((a) => a.itemId));
        expect(res.candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
        const scores = res.candidates.map((c) => c.score);
        expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      }
    }
    expect(seenHosts).toEqual(new Set(['a', 'b']));
  });

  it("proposes items near the user's history (topics of engaged items come back more than by chance)", async () => {
    const topicOf = new Map(backend.rows.map((r) => [r.item_id, r.topic]));
    const topics = new Set(backend.rows.map((r) => r.topic));
    let onTopic = 0;
    let total = 0;
    let base = 0;
    for (const userId of users) {
      const user = await events.context(userId);
      const history = new Set(user.recentActions.map((a) => topicOf.get(a.itemId)));
      const { candidates } = await served.generate(user, 20);
      onTopic += candidates.filter((c) => history.has(topicOf.get(c.itemId))).length;
      total += candidates.length;
      base += history.size / topics.size;
    }
    expect(onTopic / total).toBeGreaterThan(base / users.length);
  });

  it("with --unsynced, embeds with the viewer's newest version and says so when it differs from the index", async () => {
    const versions = new Set<string>();
    for (const userId of users) {
      const res = await unsynced.generate(await events.context(userId), 20);
      versions.add(res.modelVersion);
    }
    // The newest user tower is v0002: on host a (index v0001) the versions disagree.
    expect(versions).toContain('user:v0002/index:v0001');
    expect(versions).toContain('v0002');
  });

  it('answers a user it has never seen', async () => {
    const res = await served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(res.candidates.length).toBeLessThanOrEqual(20);
  });

  it('fails with UNAVAILABLE, saying why, when no ANN host serves the model', async () => {
    const lonely = await startGeneratorForTest(generator, snapshotsOf(await testWorld()), {
      annHosts: ['127.0.0.1:1'],
      viewerAddress: '127.0.0.1:1',
      callTimeoutMs: 300,
    });
    try {
      const err = (await lonely.generate(await events.context(users[0]), 5).catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(status.UNAVAILABLE);
    } finally {
      await lonely.stop();
    }
  });
});

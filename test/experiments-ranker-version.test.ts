// An experiment on the ranker's version, on a real mesh: a ranker trained for real on the tiny world
// is registered twice (v0001, v0002); the ranker serves the newest and holds v0001 because a variant
// asks for it. Each user's page is ranked by its variant's version, and a version the ranker does not
// hold is refused by name.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { RankerClient } from '../generated/feedloom/v1/ranker.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { codeOf, messageOf } from '../libs/bootstrap/errors.js';
import { bucketOf } from '../libs/blend/variants.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { RankerModelStore } from '../services/ranker/model-store.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, testMeshToken, testMeshConfig } from './fixtures/mesh.js';
import { registerRankerCopy, trainedTinyRanker } from './fixtures/ranker.js';

const EXPERIMENT = 'older_ranker';
const T = { timeoutMs: 20_000 };

describe('a variant ranked by another ranker version', () => {
  let running: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let ranker: RankerClient;
  let users: string[];
  const expected = (userId: string) => (bucketOf(userId, EXPERIMENT) < 5_000 ? 'v0002' : 'v0001');

  beforeAll(async () => {
    const trained = await trainedTinyRanker();
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-ranker-versions-'));
    const registry = new ModelRegistry(registryDir);
    expect((await registerRankerCopy(registry, trained)).version).toBe('v0001');
    expect((await registerRankerCopy(registry, trained)).version).toBe('v0002');
    const { mesh } = testMeshConfig(trained.worldDir, (raw) => {
      raw.registryDir = registryDir;
      raw.generators = raw.generators.filter((g: { name: string }) =>
        ['popular', 'item_cooccurrence'].includes(g.name),
      );
      delete raw.ann;
      delete raw.services.viewer;
      raw.services.ranker = { ...raw.services.ranker, deadlineMs: 10_000 };
      raw.experiments = [
        {
          name: EXPERIMENT,
          variants: [
            { name: 'serving', buckets: [{ from: 0, to: 4_999 }] },
            { name: 'older', buckets: [{ from: 5_000, to: 9_999 }], ranker: { version: 'v0001' } },
          ],
        },
      ];
    });
    running = await startAllInOne(mesh, { ephemeralPorts: true });
    blender = connect(BlenderClient, running.addresses.get('blender')!);
    ranker = connect(RankerClient, running.addresses.get('ranker')!, { token: testMeshToken() });
    const candidates = await activeUsers(trained.worldDir, 30);
    users = ['v0001', 'v0002'].flatMap((v) => candidates.filter((u) => expected(u) === v).slice(0, 3));
  }, 300_000);

  afterAll(async () => {
    blender?.close();
    ranker?.close();
    await running?.stop();
  });

  it('serves the newest version and holds the one the experiment asks for', async () => {
    const s = await callUnary(ranker, 'getStatus', {}, T);
    expect(s.modelVersion).toBe('v0002');
    expect(s.experimentVersions).toEqual(['v0001']);
  });

  it("ranks each user's page with its variant's version", async () => {
    expect(users.map(expected).sort()).toEqual(['v0001', 'v0001', 'v0001', 'v0002', 'v0002', 'v0002']);
    for (const userId of users) {
      const blend = () => callUnary(blender, 'blend', { userId, limit: 10, debug: false, requestId: '' }, T);
      const r = await blendUntil(blend, (x) => x.ranking?.ranked === true);
      expect(r.ranking, userId).toEqual({ ranked: true, modelVersion: expected(userId), fallbackReason: '' });
      expect(r.variants, userId).toEqual([
        { experiment: EXPERIMENT, variant: expected(userId) === 'v0001' ? 'older' : 'serving' },
      ]);
    }
  });

  it('refuses a version it does not hold, naming the ones it does', async () => {
    const user = UserContext.fromPartial({ userId: users[0], requestTimeMs: Date.now() });
    const err = await callUnary(
      ranker,
      'rank',
      { user, candidates: [{ itemId: 'i1', sources: [] }], requestId: '', modelVersion: 'v0099' },
      T,
    ).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(status.FAILED_PRECONDITION);
    expect(messageOf(err)).toMatch(
      /model_version: ranker v0099 is not held here \(serving v0002; held for experiments: v0001\)/,
    );
  });
});

describe('the ranker model store with experiment versions', () => {
  it('holds validated or published versions beside the serving one, swaps without reloading, and refuses the rest', async () => {
    const trained = await trainedTinyRanker();
    const registry = new ModelRegistry(mkdtempSync(join(tmpdir(), 'feedloom-ranker-held-')));
    await registerRankerCopy(registry, trained); // v0001, published
    await registerRankerCopy(registry, trained, { state: 'trained' }); // v0002
    await registry.setState('ranker', 'v0002', 'validated');
    await registerRankerCopy(registry, trained, { state: 'trained' }); // v0003
    await registry.setState('ranker', 'v0003', 'rejected');
    const lines: string[] = [];
    const store = new RankerModelStore(registry, 'ranker', {
      workers: 1,
      experimentVersions: ['v0001', 'v0002', 'v0003', 'v0009'],
      log: (line) => lines.push(line),
    });
    const versionOf = (version?: string) => store.use(async (m) => m.version, version);
    try {
      await store.refresh();
      expect(store.current?.version).toBe('v0001');
      expect(store.experimentVersions).toEqual(['v0001', 'v0002']);
      expect(await versionOf('v0002')).toBe('v0002');
      expect(await versionOf()).toBe('v0001');
      expect(await versionOf('v0003')).toBeUndefined();
      expect(Object.fromEntries(store.refused.map((r) => [r.version, r.reason]))).toEqual({
        v0003: expect.stringMatching(/^it is rejected; an experiment may use a version that is validated, published/),
        v0009: expect.stringMatching(/v0009/),
      });

      // v0002 published: it serves (the held model itself), and v0001 stays held for its experiment.
      const held = await store.use(async (m) => m, 'v0002');
      await registry.setState('ranker', 'v0002', 'published');
      await store.refresh();
      expect(store.current).toBe(held);
      expect(store.experimentVersions).toEqual(['v0001', 'v0002']);
      expect(await versionOf('v0001')).toBe('v0001');
      expect(lines.filter((l) => l.startsWith('holding'))).toEqual([
        'holding ranker v0002 for the experiments, beside v0001',
      ]);
    } finally {
      await store.close();
    }
  }, 300_000);
});

// The ranker's rollout by state, with real servers (Ranker, Events) on ephemeral ports and a ranker
// trained on the tiny world: a good version is confirmed by the ranker and marked serving; a corrupt
// one is refused at load, marked rolled_back, and the old version keeps serving; a manual rollback
// brings the older version back.
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RankerClient } from '../generated/feedloom/v1/ranker.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { snapshotsDirOf, type MeshConfig } from '../libs/config/mesh.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { RANKER_FILE } from '../libs/ranking/encoding.js';
import { startRanker } from '../services/ranker/service.js';
import { rollbackModel } from '../services/ops/rollout/rollback.js';
import { rolloutVersion } from '../services/ops/rollout/rollout.js';
import { startTestEvents } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { registerRankerCopy, trainedTinyRanker, type TrainedRanker } from './fixtures/ranker.js';

const portOf = (address: string) => Number(address.split(':').at(-1));

describe('ranker rollout and rollback', () => {
  let trained: TrainedRanker;
  let registry: ModelRegistry;
  let mesh: MeshConfig;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let ranker: Awaited<ReturnType<typeof startRanker>>;
  let client: RankerClient;

  beforeAll(async () => {
    trained = await trainedTinyRanker();
    registry = new ModelRegistry(mkdtempSync(join(tmpdir(), 'feedloom-rollout-ranker-')));
    await registerRankerCopy(registry, trained); // v0001, published
    mesh = testMeshConfig(trained.worldDir, (raw) => {
      raw.registryDir = registry.root;
      raw.rollout = { probeUserCount: 10, loadTimeoutMs: 30_000 };
    }).mesh;
    events = await startTestEvents(trained.worldDir);
    ranker = await startRanker(mesh, {
      snapshotsDir: snapshotsDirOf(mesh),
      registryDir: registry.root,
      port: 0,
      pollMs: 200,
    });
    mesh.services.events.port = portOf(events.server.address);
    mesh.services.ranker!.port = portOf(ranker.address);
    client = connect(RankerClient, ranker.address);
  }, 300_000);

  afterAll(async () => {
    client?.close();
    await ranker?.stop(100);
    await events?.stop();
  });

  const serving = async () => (await callUnary(client, 'getStatus', {}, { timeoutMs: 5_000 })).modelVersion;
  const state = async (version: string) => (await registry.get('ranker', version)).state;

  it('confirms a good version on the ranker and marks it serving, retiring the one before', async () => {
    expect((await rolloutVersion({ mesh, model: 'ranker', version: 'v0001' })).outcome).toBe('serving');
    const good = await registerRankerCopy(registry, trained); // v0002
    const result = await rolloutVersion({ mesh, model: 'ranker' });
    expect(result.outcome, result.reason).toBe('serving');
    expect(result).toMatchObject({ version: good.version, previous: 'v0001' });
    expect(result.stages.map((s) => s.stage)).toEqual(['ranker', 'guards', 'done']);
    expect(result.guard!.candidate).toMatchObject({ requests: 10, errors: 0 });
    expect(await serving()).toBe(good.version);
    expect(await state(good.version)).toBe('serving');
    expect(await state('v0001')).toBe('retired');
  }, 120_000);

  it('a corrupt model is refused by the ranker at load, rolled back, and the old one keeps serving', async () => {
    const bad = await registerRankerCopy(registry, trained, {
      damage: (dir) => writeFile(join(dir, RANKER_FILE), 'not an onnx model\n'.repeat(200)),
    });
    const result = await rolloutVersion({ mesh, model: 'ranker', version: bad.version });
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/the ranker refused v0003 at load: .*; it kept serving v0002/);
    expect(await serving()).toBe('v0002');
    expect(await state(bad.version)).toBe('rolled_back');
  }, 120_000);

  it('rolls back to the previous version by state, and the ranker follows', async () => {
    const result = await rollbackModel({ mesh, model: 'ranker', reason: 'test' });
    expect(result).toMatchObject({ from: 'v0002', to: 'v0001' });
    expect(await serving()).toBe('v0001');
    expect(await state('v0001')).toBe('serving');
    expect(await state('v0002')).toBe('rolled_back');
  }, 120_000);
});

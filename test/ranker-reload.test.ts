// The Ranker reloads model versions from the registry safely: a corrupt, tampered, mismatched or
// probe-failing version is refused with its reason and the version already serving keeps serving;
// a good newer version swaps in; a rollback goes back to the older one.
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { RankerClient, type RankRequest } from '../generated/feedloom/v1/ranker.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { loadMeshConfig, snapshotsDirOf } from '../libs/config/mesh.js';
import { linearL2Model } from '../libs/onnx/onnx-builder.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { PROBE_FILE, RANKER_FILE } from '../libs/ranking/encoding.js';
import { startRanker } from '../services/ranker/service.js';
import { registerRankerCopy, trainedTinyRanker, type TrainedRanker } from './fixtures/ranker.js';

const T = { timeoutMs: 10_000 };

describe('ranker model reload', () => {
  let trained: TrainedRanker;
  let registry: ModelRegistry;
  let server: Awaited<ReturnType<typeof startRanker>>;
  let client: RankerClient;
  let request: RankRequest;

  beforeAll(async () => {
    trained = await trainedTinyRanker();
    registry = new ModelRegistry(mkdtempSync(join(tmpdir(), 'feedloom-ranker-reload-')));
    await registerRankerCopy(registry, trained); // v0001
    const mesh = loadMeshConfig('config/mesh.json');
    mesh.world = { ...mesh.world, dir: trained.worldDir };
    server = await startRanker(mesh, {
      snapshotsDir: snapshotsDirOf(mesh),
      registryDir: registry.root,
      port: 0,
      pollMs: 3_600_000,
    });
    client = connect(RankerClient, server.address);
    const items = trained.manifest.encoding.vocab.items.slice(2, 40);
    request = {
      user: {
        userId: 'u1',
        recentActions: items.slice(0, 5).map((itemId, i) => ({
          itemId,
          type: ActionType.ACTION_TYPE_CLICK,
          timeMs: Date.now() - i * 60_000,
          boardId: '',
        })),
        followedCreators: [],
        followedBoards: [],
        topics: [],
        locale: 'en-US',
        requestTimeMs: 0,
        ownBoards: [],
        blockedCreators: [],
        seenItems: [],
      },
      candidates: items.slice(5).map((itemId, i) => ({ itemId, sources: [{ generator: 'popular', rank: i }] })),
      requestId: '',
      modelVersion: '',
    };
  }, 300_000);

  afterAll(async () => {
    client?.close();
    await server?.stop(100);
  });

  const served = async () => (await callUnary(client, 'rank', request, T)).modelVersion;
  const refusal = async (version: string) =>
    (await callUnary(client, 'getStatus', {}, T)).refused.find((r) => r.version === version)?.reason;

  it('serves the published version', async () => {
    expect(await served()).toBe('v0001');
  });

  it('refuses a version whose ONNX file is not a model; the old one keeps serving', async () => {
    const v = await registerRankerCopy(registry, trained, {
      damage: (dir) => writeFile(join(dir, RANKER_FILE), 'this is not an onnx model\n'.repeat(100)),
    });
    await server.store.refresh();
    expect(await refusal(v.version)).toMatch(/cannot load ONNX model/);
    expect(await served()).toBe('v0001');
  });

  it('refuses a version whose file changed after it was registered (sha256)', async () => {
    const v = await registerRankerCopy(registry, trained);
    const file = join(v.dir, RANKER_FILE);
    const bytes = await readFile(file);
    bytes[bytes.length - 10] ^= 0xff; // same size, different content
    await writeFile(file, bytes);
    await server.store.refresh();
    expect(await refusal(v.version)).toMatch(/ranker\.onnx: sha256 .* differs from the recorded/);
    expect(await served()).toBe('v0001');
  });

  it('refuses a valid ONNX model with the wrong inputs and outputs', async () => {
    const v = await registerRankerCopy(registry, trained, {
      damage: (dir) => writeFile(join(dir, RANKER_FILE), linearL2Model({ inDim: 4, outDim: 2 })),
    });
    await server.store.refresh();
    expect(await refusal(v.version)).toMatch(/takes input\(s\) the ranker encoding does not produce: x/);
    expect(await served()).toBe('v0001');
  });

  it('refuses a model that does not reproduce its probe outputs', async () => {
    const v = await registerRankerCopy(registry, trained, {
      damage: async (dir) => {
        const probe = JSON.parse(await readFile(join(dir, PROBE_FILE), 'utf8'));
        probe.requests[0].outputs.p_save = probe.requests[0].outputs.p_save.map((p: number) => 1 - p);
        await writeFile(join(dir, PROBE_FILE), JSON.stringify(probe));
      },
    });
    await server.store.refresh();
    expect(await refusal(v.version)).toMatch(/probe request 0: p_save\[0\] is .*, the trainer recorded/);
    expect(await served()).toBe('v0001');
  });

  it('swaps in a good newer version without failing a call, and goes back on a rollback', async () => {
    const v = await registerRankerCopy(registry, trained);
    const calls = Array.from({ length: 20 }, () => served());
    await server.store.refresh();
    const during = await Promise.all(calls);
    expect(during.every((x) => x === 'v0001' || x === v.version)).toBe(true);
    expect(await served()).toBe(v.version);
    expect((await callUnary(client, 'getStatus', {}, T)).refused.map((r) => r.version)).toEqual([
      'v0002',
      'v0003',
      'v0004',
      'v0005',
    ]);

    await registry.setState('ranker', v.version, 'serving');
    await registry.setState('ranker', v.version, 'rolled_back', 'test rollback');
    await server.store.refresh();
    expect(await served()).toBe('v0001');
  });
});

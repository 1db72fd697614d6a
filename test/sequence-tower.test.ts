// The sequence user tower end to end on the tiny world, with real parts: the real trainer
// (two_tower.py --user-tower sequence, a few epochs), its ONNX export against PyTorch on the same
// held-out users, and serving with no path of its own: the real viewer embeds exactly that version
// as the trainer did, and a two_tower call through an ANN host that serves it is answered with it,
// while the viewer's newest version is a pooled one.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import { ViewerModelClient } from '../generated/feedloom/v1/viewer.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { TWO_TOWER_MODEL } from '../libs/features/two-tower.js';
import { startGeneratorForTest } from '../libs/generator-sdk/testing.js';
import { readNpy } from '../libs/training/npy.js';
import { trainTwoTower, type TrainTwoTowerResult } from '../libs/training/train-two-tower.js';
import { maxAbsDiff, PARITY_TOLERANCE } from '../libs/training/verify-onnx.js';
import { startAnnHost } from '../services/ann/service.js';
import twoTower from '../services/generators/two_tower/generator.js';
import { startViewer } from '../services/viewer/service.js';
import { startTestEvents } from './fixtures/events.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';

const DAY_MS = 86_400_000;
const quiet = () => {};
let world: string;
let workDir: string;
let sequence: TrainTwoTowerResult;
let pooled: TrainTwoTowerResult;

beforeAll(async () => {
  world = await testWorld();
  workDir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-sequence-tower-'));
  const registryRoot = path.join(workDir, 'models');
  // Few epochs: the export and serving do not need a good model.
  const train = (userTower: 'sequence' | 'pooled') =>
    trainTwoTower({
      worldDir: world,
      registryRoot,
      workDir: path.join(workDir, userTower),
      epochs: 3,
      batch: 128,
      seed: 5,
      userTower,
    });
  sequence = await train('sequence'); // v0001
  pooled = await train('pooled'); // v0002, the viewer's newest
}, 300_000);
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

describe('sequence user tower', () => {
  it('is trained with the dense loss and exported with the pooled tower’s interface', () => {
    const m = sequence.info.manifest;
    expect(m.userTower).toBe('sequence');
    expect(m.training).toMatchObject({ user_tower: 'sequence', loss: 'dense' });
    expect(pooled.info.manifest.userTower).toBe('pooled');
    expect(m.onnx).toEqual(pooled.info.manifest.onnx);
    // onnxruntime against PyTorch on the trainer's check users (verifyTwoTowerOnnx).
    expect(sequence.check.users).toBeGreaterThan(5);
    expect(sequence.check.maxAbsDiffUser).toBeLessThan(PARITY_TOLERANCE);
    expect(m.metrics['val_recall@100']).toBeGreaterThan(m.metrics['random_recall@100']);
  });

  it('the viewer embeds a held-out user as PyTorch did, whatever the request time, and a two_tower call is answered in its version', async () => {
    const m = sequence.info.manifest;
    const registryDir = path.join(workDir, 'models');
    await runIndexer({ registryDir, worldDir: world, version: sequence.info.version });
    const viewer = await startViewer({ registryDir, keepVersions: 3, pollMs: 3_600_000, port: 0, log: quiet });
    // The host serves the sequence version, the only one indexed.
    const host = await startAnnHost({ name: 'a', registryDir, port: 0, log: quiet });
    const generator = await startGeneratorForTest(twoTower, snapshotsOf(world), {
      viewerAddress: viewer.address,
      annHosts: [host.address],
      callTimeoutMs: 5_000,
    });
    const viewerClient = connect(ViewerModelClient, viewer.address);
    const events = await startTestEvents(world, { asOfMs: m.dataWindow.endMs });
    const embed = async (user: UserContext, version: string) =>
      (await callUnary(viewerClient, 'embedUser', { user, model: TWO_TOWER_MODEL, version }, { timeoutMs: 5_000 }))
        .embedding;
    try {
      const dir = path.join(workDir, 'sequence');
      const valUsers = JSON.parse(await fs.readFile(path.join(dir, 'dataset', 'val_users.json'), 'utf8')) as string[];
      const trained = await readNpy(path.join(dir, 'check_user_embedding.npy'));
      const n = Math.min(20, sequence.check.users);
      let differs = 0;
      for (let i = 0; i < n; i++) {
        const context = await events.context(valUsers[i]);
        const python = trained.data.subarray(i * m.dim, (i + 1) * m.dim) as Float32Array;
        const served = await embed(context, sequence.info.version);
        expect(maxAbsDiff(served, python), valUsers[i]).toBeLessThan(PARITY_TOLERANCE);
        // Nine days and five hours later: the same relative recency, the hour left out.
        const later: UserContext = {
          ...context,
          requestTimeMs: (Number(context.requestTimeMs) || m.dataWindow.endMs) + 9 * DAY_MS + 5 * 3_600_000,
        };
        expect(maxAbsDiff(await embed(later, sequence.info.version), served), valUsers[i]).toBeLessThan(1e-5);
        if (maxAbsDiff(await embed(context, pooled.info.version), served) > 1e-2) differs++;

        const answer = await generator.generate(context, 50);
        expect(answer.modelVersion).toBe(sequence.info.version);
        expect(answer.candidates.length).toBeGreaterThan(0);
      }
      // The viewer holds both versions and they are different models.
      expect(differs).toBe(n);
    } finally {
      viewerClient.close();
      await events.stop();
      await generator.stop();
      await host.stop(100);
      await viewer.stop(100);
    }
  });
});

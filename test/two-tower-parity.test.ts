// Train/serve parity of the two-tower user tower: the trainer's own embedding of a held-out user
// (PyTorch, on the dataset builder's replayed context) must be what the viewer computes when it
// serves that user (the Events service's context → encodeUserBatch → user_tower.onnx in the
// viewer's UserTower). With the default pooling (plain mean) and the hour left out, the serving
// embedding must not depend on when the request comes either.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import type { TwoTowerManifest } from '../libs/features/two-tower.js';
import { readNpy } from '../libs/training/npy.js';
import type { VersionInfo } from '../libs/registry/registry.js';
import { trainTwoTower } from '../libs/training/train-two-tower.js';
import { UserTower } from '../services/viewer/user-tower.js';
import { startTestEvents } from './fixtures/events.js';
import { testWorld } from './fixtures/world.js';
import { maxAbsDiff } from '../libs/training/verify-onnx.js';

const DAY_MS = 86_400_000;
let world: string;
let workDir: string;
let info: VersionInfo<TwoTowerManifest>;

beforeAll(async () => {
  world = await testWorld();
  workDir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-two-tower-parity-'));
  // Few epochs: parity does not need a good model. The trainer's defaults otherwise.
  info = (
    await trainTwoTower({
      worldDir: world,
      registryRoot: path.join(workDir, 'models'),
      workDir,
      epochs: 2,
      batch: 128,
      seed: 5,
    })
  ).info;
}, 180_000);
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

describe('two-tower train/serve parity', () => {
  it("the viewer's embedding of a held-out user is the trainer's, whatever the request time", async () => {
    const m = info.manifest;
    const report = JSON.parse(await fs.readFile(path.join(workDir, 'trainer-report.json'), 'utf8')) as {
      check: { users_from: string; users: number };
    };
    expect(report.check.users_from).toBe('val');
    const valUsers = JSON.parse(await fs.readFile(path.join(workDir, 'dataset', 'val_users.json'), 'utf8')) as string[];
    const trained = await readNpy(path.join(workDir, 'check_user_embedding.npy'));
    const n = Math.min(20, report.check.users);
    expect(n).toBeGreaterThan(5);

    const events = await startTestEvents(world, { asOfMs: m.dataWindow.endMs });
    const tower = await UserTower.load(info.dir, m);
    let withHistory = 0;
    try {
      for (let i = 0; i < n; i++) {
        const context = await events.context(valUsers[i]);
        if (context.recentActions.length > 0) withHistory++;
        const python = trained.data.subarray(i * m.dim, (i + 1) * m.dim) as Float32Array;
        const served = await tower.embed(context);
        expect(maxAbsDiff(served, python), valUsers[i]).toBeLessThan(1e-4);
        // Nine days and five hours later: other recency weights and another hour, the same user.
        const later: UserContext = {
          ...context,
          requestTimeMs: (Number(context.requestTimeMs) || m.dataWindow.endMs) + 9 * DAY_MS + 5 * 3_600_000,
        };
        expect(maxAbsDiff(await tower.embed(later), served), valUsers[i]).toBeLessThan(1e-5);
      }
      expect(withHistory).toBeGreaterThan(5);
    } finally {
      await tower.close();
      await events.stop();
    }
  });
});

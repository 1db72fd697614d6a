// The multi-interest user tower (two_tower.py --user-tower multi --interests K), for real on the
// tiny world: the trainer's ONNX user tower gives K unit embeddings per user, [B, K, dim], equal to
// PyTorch's on the held-out users; its recall is scored as K searches merged by max score. An
// experiment of docs/RELEVANCE.md ("Several embeddings per user"), not served: no manifest or
// serving path takes it.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_INPUTS, USER_OUTPUT, USER_TOWER_FILE } from '../libs/features/two-tower.js';
import { runPython, trainerScript } from '../libs/python/python.js';
import { readNpy } from '../libs/training/npy.js';
import { buildTwoTowerDataset, type TwoTowerDataset } from '../libs/training/two-tower-dataset.js';
import { datasetRows, maxAbsDiff, PARITY_TOLERANCE, runTower } from '../libs/training/verify-onnx.js';
import { testWorld } from './fixtures/world.js';

const K = 3;
const DIM = 16;
let workDir: string;
let dataset: TwoTowerDataset;
let report: {
  dim: number;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
  check: { users: number };
};

beforeAll(async () => {
  const world = await testWorld();
  workDir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-multi-interest-'));
  dataset = await buildTwoTowerDataset({ worldDir: world, outDir: path.join(workDir, 'dataset') });
  const out = path.join(workDir, 'model');
  const reportFile = path.join(workDir, 'report.json');
  const args = ['--data', dataset.dir, '--out', out, '--report', reportFile, '--seed', '5'];
  args.push('--user-tower', 'multi', '--interests', String(K), '--epochs', '2', '--batch', '128', '--dim', String(DIM));
  await runPython(trainerScript('two_tower.py'), args);
  report = JSON.parse(await fs.readFile(reportFile, 'utf8'));
}, 300_000);
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});

describe('multi-interest user tower', () => {
  it('exports K unit embeddings per user that agree with PyTorch', async () => {
    expect(report.training).toMatchObject({ user_tower: 'multi', interests: K, interest_logit: 'max' });
    const session = await ort.InferenceSession.create(path.join(workDir, 'model', USER_TOWER_FILE));
    try {
      expect(session.inputNames).toEqual([...USER_INPUTS]);
      const n = report.check.users;
      expect(n).toBeGreaterThan(5);
      const inputs = await datasetRows(dataset.dir, dataset.manifest, 'val_', USER_INPUTS, n);
      const served = await runTower(session, inputs, USER_OUTPUT);
      expect(served.dims).toEqual([n, K, DIM]);
      const trained = await readNpy(path.join(workDir, 'check_user_embedding.npy'));
      expect(trained.shape).toEqual([n, K, DIM]);
      expect(maxAbsDiff(served.data, trained.data as Float32Array)).toBeLessThan(PARITY_TOLERANCE);
      for (let row = 0; row < n * K; row++) {
        const e = served.data.subarray(row * DIM, (row + 1) * DIM);
        expect(Math.hypot(...e)).toBeCloseTo(1, 4);
      }
    } finally {
      await session.release();
    }
  });

  it('reports recall of the merged K searches and how alike a user’s interests are', () => {
    const m = report.metrics;
    expect(m['val_recall@100']).toBeGreaterThan(m['random_recall@100']);
    expect(m['interest_mean_cosine']).toBeLessThanOrEqual(1 + 1e-6);
    expect(m['interest_mean_cosine']).toBeGreaterThanOrEqual(-1 / (K - 1) - 1e-6);
    // The most used interest gives at least its share of a user's top 100, at most all of it.
    expect(m['top_interest_share@100']).toBeGreaterThanOrEqual(1 / K);
    expect(m['top_interest_share@100']).toBeLessThanOrEqual(1);
  });
});

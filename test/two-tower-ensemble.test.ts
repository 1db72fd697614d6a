// A seed ensemble (two_tower.py --ensemble N), for real on the tiny world: one registered version
// whose towers output their members' embeddings side by side / sqrt(N), so each member is the model
// the same seed trains alone, the output is unit-norm of dimension N × dim, ONNX = PyTorch, and the
// indexer and the serving-path evaluation take it like any version (same inputs, wider output).
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testWorld } from './fixtures/world.js';
import { loadItemIndex } from '../libs/ann/item-index.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { ITEM_TOWER_FILE, type ItemFeatureRow, type TwoTowerManifest } from '../libs/features/two-tower.js';
import type { VersionInfo } from '../libs/registry/registry.js';
import { evaluateTwoTower, heldOutSet } from '../libs/training/evaluate.js';
import { itemFeatureRows } from '../libs/training/item-features.js';
import { trainTwoTower } from '../libs/training/train-two-tower.js';
import { embedItemRows, maxAbsDiff } from '../libs/training/verify-onnx.js';

const TRAIN = { epochs: 2, batch: 128, dim: 16 };

let world: string;
let registryRoot: string;
let ensemble: VersionInfo<TwoTowerManifest>;
let members: VersionInfo<TwoTowerManifest>[];
let parity: number;
let rows: ItemFeatureRow[];

beforeAll(async () => {
  world = await testWorld();
  registryRoot = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-ensemble-registry-'));
  const trained = await trainTwoTower({ worldDir: world, registryRoot, ...TRAIN, seed: 3, ensemble: 2 });
  ensemble = trained.info;
  parity = Math.max(trained.check.maxAbsDiffUser, trained.check.maxAbsDiffItem);
  members = [];
  for (const seed of [3, 4])
    members.push((await trainTwoTower({ worldDir: world, registryRoot, ...TRAIN, seed, ensemble: 1 })).info);
  rows = await itemFeatureRows(world, ensemble.manifest.dataWindow.endMs);
}, 300_000);
afterAll(async () => {
  await fs.rm(registryRoot, { recursive: true, force: true });
});

async function itemEmbeddings(info: VersionInfo<TwoTowerManifest>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path.join(info.dir, ITEM_TOWER_FILE));
  try {
    return await embedItemRows(session, info.manifest, rows, info.manifest.dataWindow.endMs);
  } finally {
    await session.release();
  }
}

describe('a seed ensemble of two-tower models, served as one version', () => {
  it('has dimension members × dim, records its members, and its ONNX files agree with PyTorch', () => {
    const m = ensemble.manifest;
    expect(m.dim).toBe(2 * TRAIN.dim);
    expect(m.training).toMatchObject({ ensemble: 2, member_seeds: [3, 4] });
    expect(parity).toBeLessThan(1e-4);
    for (const member of members) expect(member.manifest.dim).toBe(TRAIN.dim);
  });

  it("each half of an item's vector is what that seed's model gives alone, over sqrt(2)", async () => {
    const whole = await itemEmbeddings(ensemble);
    const alone = await Promise.all(members.map(itemEmbeddings));
    const D = TRAIN.dim;
    let worst = 0;
    for (let i = 0; i < rows.length; i++) {
      for (const [k, part] of alone.entries()) {
        const half = whole.subarray(i * 2 * D + k * D, i * 2 * D + (k + 1) * D);
        const scaled = part.subarray(i * D, (i + 1) * D).map((v) => v / Math.SQRT2);
        worst = Math.max(worst, maxAbsDiff(half, scaled));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('is indexed at its width and evaluates through the serving path as the trainer measured it', async () => {
    const result = await runIndexer({ registryDir: registryRoot, worldDir: world, version: ensemble.version });
    expect(result.meta.dim).toBe(2 * TRAIN.dim);
    const index = await loadItemIndex(ensemble.dir);
    try {
      const [{ vector }] = index.vectorsOf([rows[3].item_id]);
      expect(vector).toHaveLength(2 * TRAIN.dim);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    } finally {
      index.dispose();
    }
    const m = ensemble.manifest;
    const set = await heldOutSet(world, m.validationWindow!.startMs, m.validationWindow!.endMs);
    const measured = await evaluateTwoTower(ensemble, set);
    expect(Math.abs(measured.recall[100] - m.metrics['val_recall@100'])).toBeLessThan(0.02);
    expect(measured.meanUserNorm).toBeCloseTo(1, 4);
  });
});

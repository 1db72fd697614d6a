// The whole training path on the tiny world, for real: dataset from the event log, the PyTorch
// trainer (a few epochs, seconds), ONNX export, registration, and then the SERVING path on the
// result: the Events service's user contexts → encodeUserBatch → user_tower.onnx, and the catalog's
// itemFeatureRows → encodeItemBatch → item_tower.onnx, in onnxruntime-node.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEvents } from '../../test/fixtures/events.js';
import { testWorld } from '../../test/fixtures/world.js';
import { eventsView, openDuck, queryRows } from '../data/duck.js';
import {
  encodeItemBatch,
  encodeUserBatch,
  itemInputDims,
  ITEM_OUTPUT,
  ITEM_TOWER_FILE,
  USER_OUTPUT,
  USER_TOWER_FILE,
  userInputDims,
  type TwoTowerManifest,
} from '../features/two-tower.js';
import { ModelRegistry, verifyArtifacts, type VersionInfo } from '../registry/registry.js';
import { evaluateTwoTower, heldOutSet } from './evaluate.js';
import { itemFeatureRows } from './item-features.js';
import { trainTwoTower, type TrainTwoTowerResult } from './train-two-tower.js';

let world: string;
let registryRoot: string;
let result: TrainTwoTowerResult;
let info: VersionInfo<TwoTowerManifest>;

const TRAIN = { epochs: 5, batch: 128, seed: 3 };

beforeAll(async () => {
  world = await testWorld();
  registryRoot = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-two-tower-registry-'));
  result = await trainTwoTower({ worldDir: world, registryRoot, ...TRAIN });
  info = result.info;
}, 180_000);
afterAll(async () => {
  await fs.rm(registryRoot, { recursive: true, force: true });
});

function feeds(
  arrays: Record<string, BigInt64Array | Float32Array>,
  dims: Record<string, number[]>,
): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(arrays).map(([k, v]) => [
      k,
      v instanceof BigInt64Array ? new ort.Tensor('int64', v, dims[k]) : new ort.Tensor('float32', v, dims[k]),
    ]),
  );
}

function norms(data: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < data.length / dim; r++) out.push(Math.hypot(...data.subarray(r * dim, (r + 1) * dim)));
  return out;
}

describe('two-tower training, end to end on the tiny world', () => {
  it('registers a trained version whose manifest carries the encoding, the data window and offline metrics', async () => {
    expect(info.model).toBe('two_tower');
    expect(info.version).toBe('v0001');
    expect(info.state).toBe('trained');
    expect(info.history.map((h) => h.state)).toEqual(['training', 'trained']);
    const m = info.manifest;
    expect(m.kind).toBe('two_tower');
    expect(m.dim).toBe(32);
    expect(m.dataWindow.endMs).toBe(m.validationWindow!.startMs);
    expect(m.vocab.items.length).toBeGreaterThan(100);
    expect(Object.keys(m.artifacts).sort()).toEqual([ITEM_TOWER_FILE, USER_TOWER_FILE]);
    await verifyArtifacts(info);
    for (const key of [
      'val_recall@100',
      'val_recall@500',
      'mean_user_norm',
      'mean_item_norm',
      'item_mean_pairwise_cosine',
      'coverage@100',
    ]) {
      expect(Number.isFinite(m.metrics[key]), key).toBe(true);
    }
    expect(m.metrics.mean_item_norm).toBeCloseTo(1, 3);
    // Not collapsed: items are not all one direction.
    expect(m.metrics.item_mean_pairwise_cosine).toBeLessThan(0.95);
    expect(m.metrics['val_recall@100']).toBeGreaterThan(m.metrics['random_recall@100']);
    expect(result.check.maxAbsDiffUser).toBeLessThan(1e-4);
  });

  it('served through onnxruntime, the user embeddings retrieve the held-out engagements far better than random', async () => {
    const m = info.manifest;
    const cut = m.dataWindow.endMs;
    const end = m.validationWindow!.endMs;
    const userSession = await ort.InferenceSession.create(path.join(info.dir, USER_TOWER_FILE));
    const itemSession = await ort.InferenceSession.create(path.join(info.dir, ITEM_TOWER_FILE));
    const events = await startTestEvents(world, { asOfMs: cut });
    try {
      // The catalog as the indexer embeds it.
      const rows = await itemFeatureRows(world, cut);
      const items = await itemSession.run(feeds({ ...encodeItemBatch(rows, m, cut) }, itemInputDims(rows.length, m)));
      const itemEmb = items[ITEM_OUTPUT].data as Float32Array;
      expect(items[ITEM_OUTPUT].dims).toEqual([rows.length, m.dim]);
      for (const n of norms(itemEmb, m.dim)) expect(n).toBeCloseTo(1, 4);

      // Held out: what users newly clicked or saved after the cut-off.
      const duck = await openDuck();
      let targets: Map<string, Set<string>>;
      try {
        await eventsView(duck.conn, world, { beforeMs: end });
        const later = await queryRows<{ user_id: string; item_id: string }>(
          duck.conn,
          `SELECT DISTINCT user_id, item_id FROM events e WHERE action IN ('click','save') AND time_ms >= ${cut}
             AND NOT EXISTS (SELECT 1 FROM events p WHERE p.user_id = e.user_id AND p.item_id = e.item_id AND p.time_ms < ${cut} AND p.action IN ('click','save'))`,
        );
        targets = new Map();
        for (const r of later)
          (targets.get(r.user_id) ?? targets.set(r.user_id, new Set()).get(r.user_id)!).add(r.item_id);
      } finally {
        duck.close();
      }
      const users = [...targets.keys()].sort().slice(0, 60);
      expect(users.length).toBeGreaterThan(20);
      const contexts = await Promise.all(users.map((u) => events.context(u)));
      const out = await userSession.run(feeds({ ...encodeUserBatch(contexts, m) }, userInputDims(m, users.length)));
      const userEmb = out[USER_OUTPUT].data as Float32Array;
      expect(out[USER_OUTPUT].dims).toEqual([users.length, m.dim]);
      for (const n of norms(userEmb, m.dim)) expect(n).toBeCloseTo(1, 4);

      // Brute-force top 100 over the catalog, leaving out what the user already engaged with.
      const K = 100;
      let recall = 0;
      let randomRecall = 0;
      users.forEach((u, r) => {
        const seen = new Set(contexts[r].recentActions.map((a) => a.itemId));
        const scored: [number, number][] = [];
        for (let i = 0; i < rows.length; i++) {
          if (seen.has(rows[i].item_id)) continue;
          let s = 0;
          for (let k = 0; k < m.dim; k++) s += userEmb[r * m.dim + k] * itemEmb[i * m.dim + k];
          scored.push([s, i]);
        }
        scored.sort((a, b) => b[0] - a[0]);
        const top = new Set(scored.slice(0, K).map(([, i]) => rows[i].item_id));
        const wanted = targets.get(u)!;
        recall += [...wanted].filter((id) => top.has(id)).length / wanted.size;
        randomRecall += Math.min(1, K / scored.length);
      });
      recall /= users.length;
      randomRecall /= users.length;
      expect(recall).toBeGreaterThan(2 * randomRecall);
    } finally {
      await events.stop();
      await userSession.release();
      await itemSession.release();
    }
  });

  it("evaluateTwoTower re-measures the version through onnxruntime and agrees with the trainer's metrics", async () => {
    const m = info.manifest;
    const set = await heldOutSet(world, m.validationWindow!.startMs, m.validationWindow!.endMs);
    expect(set.users.length).toBe(m.metrics.val_users);
    expect(set.targets.flat().length).toBe(m.metrics.val_targets);
    const measured = await evaluateTwoTower(info, set);
    // Float32 differences between PyTorch and onnxruntime may swap a near-tie at rank K: allow
    // about one such swap among the ~70 users.
    expect(Math.abs(measured.recall[100] - m.metrics['val_recall@100'])).toBeLessThan(0.02);
    expect(Math.abs(measured.recall[500] - m.metrics['val_recall@500'])).toBeLessThan(0.02);
    expect(measured.meanUserNorm).toBeCloseTo(1, 4);
    expect(measured.itemMeanPairwiseCosine).toBeLessThan(0.95);
  });

  it('is repeatable: the same data and seed give bit-identical ONNX files, as a new version', async () => {
    const again = await trainTwoTower({ worldDir: world, registryRoot, ...TRAIN });
    expect(again.info.version).toBe('v0002');
    for (const file of [USER_TOWER_FILE, ITEM_TOWER_FILE])
      expect(again.info.manifest.artifacts[file].sha256).toBe(info.manifest.artifacts[file].sha256);
    expect(again.info.manifest.metrics['val_recall@100']).toBe(info.manifest.metrics['val_recall@100']);
    expect((await new ModelRegistry(registryRoot).latest('two_tower', ['trained']))!.version).toBe('v0002');
  }, 180_000);
});

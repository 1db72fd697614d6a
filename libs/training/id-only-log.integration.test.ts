// two-tower and mf on a log with only user, item, rating and time (an imported MovieLens-layout
// file: no creators, boards, topics, locales or hides): both train with the real PyTorch trainers,
// their reports and manifests are strict JSON with every metric a finite number, and the serving-path
// evaluation the retraining gates read measures the two-tower version without a NaN.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInteractions } from '../data/importer.js';
import { UDATA_SMALL, writeUData } from '../data/udata-fixture.js';
import { DAY_MS, readWorldManifest } from '../data/world.js';
import { ITEM_BOARDS_INPUT } from '../features/two-tower.js';
import { evaluateTwoTower, heldOutSet } from './evaluate.js';
import { readNpy } from './npy.js';
import { trainMf } from './mf.js';
import { trainTwoTower, type TrainTwoTowerOptions } from './train-two-tower.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-id-only-'));
const worldDir = join(tmp, 'world');
const registryRoot = join(tmp, 'models');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const input = join(tmp, 'u.data');
  writeUData(input, UDATA_SMALL);
  await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
}, 60_000);

const finiteMetrics = (manifestFile: string) => {
  const metrics = JSON.parse(readFileSync(manifestFile, 'utf8')).metrics as Record<string, unknown>;
  return Object.entries(metrics).filter(([, v]) => typeof v !== 'number' || !Number.isFinite(v));
};

/**
 * Trains two-tower on the log and checks it: strict JSON with finite metrics, better than random,
 * and the serving-path evaluation (no NaN) agrees with the trainer's held-out recall.
 */
async function trainAndMeasure(options: Pick<TrainTwoTowerOptions, 'dataset' | 'workDir'> = {}) {
  const { info } = await trainTwoTower({
    worldDir,
    registryRoot,
    epochs: 2,
    seed: 3,
    holdoutMs: 10 * DAY_MS,
    ...options,
  });
  expect(info.state).toBe('trained');
  expect(finiteMetrics(join(info.dir, 'manifest.json'))).toEqual([]);
  const m = info.manifest.metrics;
  expect(m['val_recall@100']).toBeGreaterThan(m['random_recall@100']);

  const set = await heldOutSet(
    worldDir,
    info.manifest.validationWindow!.startMs,
    info.manifest.validationWindow!.endMs,
  );
  expect(set.users.length).toBeGreaterThan(20);
  const measured = await evaluateTwoTower(info, set);
  const values = [
    ...Object.values(measured.recall),
    measured.coverage100,
    measured.meanUserNorm,
    ...measured.userNormRange,
    ...measured.itemNormRange,
    measured.itemMeanPairwiseCosine,
    measured.userMeanPairwiseCosine,
  ];
  expect(values.every(Number.isFinite)).toBe(true);
  // The serving path agrees with the trainer's own held-out recall.
  expect(measured.recall[100]).toBeCloseTo(m['val_recall@100'], 2);
  return info;
}

describe('trainers on an id-only log', () => {
  it('two-tower trains, validates on held-out days and beats random retrieval, with no NaN written', async () => {
    const world = await readWorldManifest(worldDir);
    expect(world.features).toEqual({ creators: false, boards: false, topics: false, locales: false });
    const info = await trainAndMeasure();
    expect(info.manifest.onnx.itemInputs).not.toContain(ITEM_BOARDS_INPUT);
  }, 180_000);

  it('two-tower with the boards input: a log without boards feeds all padding, and it trains and serves as without', async () => {
    const workDir = join(tmp, 'boards-work');
    const info = await trainAndMeasure({ dataset: { boardLen: 8 }, workDir });
    expect(info.manifest.onnx.itemInputs).toContain(ITEM_BOARDS_INPUT);
    expect(info.manifest.vocab.boards).toHaveLength(2); // padding and OOV only
    const boards = await readNpy(join(workDir, 'dataset', 'items_boards.npy'));
    expect(boards.shape[1]).toBe(8);
    expect((boards.data as BigInt64Array).every((b) => b === 0n)).toBe(true);
  }, 180_000);

  it('mf trains and measures held-out recall, with no NaN written', async () => {
    const result = await trainMf({ worldDir, registryRoot, snapshotsDir: null, epochs: 5, holdoutMs: 10 * DAY_MS });
    expect(result.info!.state).toBe('trained');
    expect(finiteMetrics(join(result.info!.dir, 'manifest.json'))).toEqual([]);
    expect(result.metrics['val_recall@100']).toBeGreaterThan(0.25); // 400 items: random is 0.25
    expect(result.counts.users).toBeGreaterThan(150);
  }, 120_000);
});

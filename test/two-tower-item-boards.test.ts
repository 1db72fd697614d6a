// The item tower's `boards` input (every board an item is on), for real on the tiny world: the
// dataset carries it, the PyTorch trainer exports it as an ONNX input, onnxruntime agrees with
// PyTorch on rows that have boards, the indexer feeds it (the index holds the vectors the tower
// gives with the item's boards, not without), and a version trained without it (every version
// from before it) is still indexed and evaluated with exactly the inputs it takes.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testWorld } from './fixtures/world.js';
import { loadItemIndex } from '../libs/ann/item-index.js';
import { runIndexer } from '../libs/ann/indexer.js';
import {
  encodeItemBatch,
  ITEM_BOARDS_INPUT,
  ITEM_INPUTS,
  ITEM_TOWER_FILE,
  itemTowerInputs,
  type ItemFeatureRow,
  type TwoTowerManifest,
} from '../libs/features/two-tower.js';
import type { VersionInfo } from '../libs/registry/registry.js';
import { evaluateTwoTower, heldOutSet } from '../libs/training/evaluate.js';
import { itemFeatureRows, MAX_ITEM_BOARDS } from '../libs/training/item-features.js';
import { readNpy } from '../libs/training/npy.js';
import { trainTwoTower } from '../libs/training/train-two-tower.js';
import { embedItemRows, maxAbsDiff } from '../libs/training/verify-onnx.js';

const TRAIN = { epochs: 3, batch: 128, seed: 3 };
const BOARD_LEN = 8;

let world: string;
let registryRoot: string;
let work: string;
let withBoards: VersionInfo<TwoTowerManifest>;
let without: VersionInfo<TwoTowerManifest>;
let maxAbsDiffItem: number;
let rows: ItemFeatureRow[];

beforeAll(async () => {
  world = await testWorld();
  registryRoot = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-boards-registry-'));
  work = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-boards-work-'));
  const trained = await trainTwoTower({
    worldDir: world,
    registryRoot,
    ...TRAIN,
    dataset: { boardLen: BOARD_LEN },
    workDir: work,
  });
  withBoards = trained.info;
  maxAbsDiffItem = trained.check.maxAbsDiffItem;
  without = (await trainTwoTower({ worldDir: world, registryRoot, ...TRAIN, dataset: { boardLen: 0 } })).info;
  rows = await itemFeatureRows(world, withBoards.manifest.dataWindow.endMs);
}, 240_000);
afterAll(async () => {
  await fs.rm(registryRoot, { recursive: true, force: true });
  await fs.rm(work, { recursive: true, force: true });
});

/** The item tower of a version over rows as of asOfMs, fed what it takes; boards cleared when asked. */
async function embed(
  info: VersionInfo<TwoTowerManifest>,
  items: ItemFeatureRow[],
  asOfMs: number,
  clearBoards = false,
) {
  const session = await ort.InferenceSession.create(path.join(info.dir, ITEM_TOWER_FILE));
  try {
    return await embedItemRows(
      session,
      info.manifest,
      clearBoards ? items.map((r) => ({ ...r, boards: [] })) : items,
      asOfMs,
    );
  } finally {
    await session.release();
  }
}

describe('the item tower sees every board of an item', () => {
  it('is exported as an ONNX input [batch, boardLen], recorded in the manifest, and ONNX = PyTorch on rows with boards', async () => {
    const m = withBoards.manifest;
    expect(m.inputs.boardLen).toBe(BOARD_LEN);
    expect(m.onnx.itemInputs).toEqual([...ITEM_INPUTS, ITEM_BOARDS_INPUT]);
    expect(m.training?.item_inputs).toEqual([...ITEM_INPUTS, ITEM_BOARDS_INPUT]);
    const session = await ort.InferenceSession.create(path.join(withBoards.dir, ITEM_TOWER_FILE));
    expect(session.inputNames).toEqual([...ITEM_INPUTS, ITEM_BOARDS_INPUT]);
    await session.release();

    // The trainer's check rows (the first catalog rows) include items on several boards, and
    // onnxruntime gives what PyTorch gave for them.
    const boards = await readNpy(path.join(work, 'dataset', 'items_boards.npy'));
    expect(boards.shape).toEqual([rows.length, BOARD_LEN]);
    const checked = (m.training?.onnxCheck as { items: number }).items;
    let multi = 0;
    for (let r = 0; r < checked; r++) {
      let n = 0;
      for (let k = 0; k < BOARD_LEN; k++) if (boards.data[r * BOARD_LEN + k] !== 0n) n++;
      if (n >= 2) multi++;
    }
    expect(multi).toBeGreaterThan(3);
    expect(maxAbsDiffItem).toBeLessThan(1e-4);
  });

  it("the dataset's boards are the catalog's: every board of the item (at most MAX_ITEM_BOARDS), the primary board among them", async () => {
    const withMany = rows.filter((r) => (r.boards?.length ?? 0) >= 2);
    expect(withMany.length).toBeGreaterThan(10);
    for (const r of withMany) {
      expect(new Set(r.boards).size).toBe(r.boards!.length);
      expect(r.boards!.length).toBeLessThanOrEqual(MAX_ITEM_BOARDS);
      // The primary board is the oldest: among them unless the newest MAX_ITEM_BOARDS crowd it out.
      if (r.boards!.length < MAX_ITEM_BOARDS) expect(r.boards).toContain(r.board_id);
    }
    const encoded = encodeItemBatch(rows, withBoards.manifest, withBoards.manifest.dataWindow.endMs);
    const fromDataset = await readNpy(path.join(work, 'dataset', 'items_boards.npy'));
    expect([...(fromDataset.data as BigInt64Array)]).toEqual([...encoded.boards!]);
  });

  it('the indexer feeds the boards: the index holds the vectors the tower gives with them, not without', async () => {
    const result = await runIndexer({ registryDir: registryRoot, worldDir: world, version: withBoards.version });
    expect(result.version).toBe(withBoards.version);
    const index = await loadItemIndex(withBoards.dir);
    try {
      const asOf = result.meta.asOfMs;
      const indexedRows = await itemFeatureRows(world, asOf);
      const sample = indexedRows.filter((r) => (r.boards?.length ?? 0) >= 2).slice(0, 20);
      const dim = withBoards.manifest.dim;
      const fed = await embed(withBoards, sample, asOf);
      const unfed = await embed(withBoards, sample, asOf, true);
      const stored = index.vectorsOf(sample.map((r) => r.item_id));
      expect(stored).toHaveLength(sample.length);
      let changed = 0;
      stored.forEach(({ vector }, i) => {
        expect(maxAbsDiff(vector, fed.subarray(i * dim, (i + 1) * dim))).toBeLessThan(1e-5);
        if (maxAbsDiff(vector, unfed.subarray(i * dim, (i + 1) * dim)) > 1e-3) changed++;
      });
      // The boards move the items' vectors: the input is live, not multiplied away.
      expect(changed).toBe(sample.length);
    } finally {
      index.dispose();
    }
  });

  it('a version without the input (as before it) takes ITEM_INPUTS only and is indexed and evaluated with them', async () => {
    const m = without.manifest;
    expect(m.inputs.boardLen).toBe(0);
    expect(m.onnx.itemInputs).toEqual([...ITEM_INPUTS]);
    const session = await ort.InferenceSession.create(path.join(without.dir, ITEM_TOWER_FILE));
    expect(session.inputNames).toEqual([...ITEM_INPUTS]);
    // A version whose ONNX file takes an input its manifest's encoding cannot produce is refused, by name.
    const boardsSession = await ort.InferenceSession.create(path.join(withBoards.dir, ITEM_TOWER_FILE));
    expect(() =>
      itemTowerInputs(encodeItemBatch(rows.slice(0, 2), m, m.dataWindow.endMs), 2, m, boardsSession.inputNames),
    ).toThrow(/takes an input "boards" that this version's encoding does not produce/);
    await session.release();
    await boardsSession.release();

    const result = await runIndexer({ registryDir: registryRoot, worldDir: world, version: without.version });
    expect(result.meta.items).toBeGreaterThan(100);
    // Both versions evaluate through the serving path and agree with their trainer's metric.
    const set = await heldOutSet(world, m.validationWindow!.startMs, m.validationWindow!.endMs);
    for (const info of [without, withBoards]) {
      const measured = await evaluateTwoTower(info, set);
      expect(Math.abs(measured.recall[100] - info.manifest.metrics['val_recall@100'])).toBeLessThan(0.02);
    }
  });
});

import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LOCALES } from '../data/world.js';
import {
  DEFAULT_WEIGHTING,
  ITEM_INPUTS,
  ITEM_OUTPUT,
  ITEM_TOWER_FILE,
  TWO_TOWER_MODEL,
  USER_INPUTS,
  USER_OUTPUT,
  USER_TOWER_FILE,
  type ItemFeatureRow,
  type TwoTowerManifest,
} from '../features/two-tower.js';
import { buildVocab } from '../features/vocab.js';
import { encodeOnnxModel, seededWeights } from '../onnx/onnx-builder.js';
import { ModelRegistry, type VersionInfo } from '../registry/registry.js';
import type { ModelState } from '../registry/states.js';

/**
 * A synthetic two-tower model version for fast tests of the serving path (viewer, indexer, ANN
 * hosts, generators) without training: real ONNX files with the real input and output names,
 * registered in a real registry. Item vectors are topic vectors plus item noise; the user vector is
 * the mean of the history items' vectors plus the user's topics, so retrieval follows the history.
 * Different seeds give unrelated embedding spaces, like two independently trained versions.
 * Integration tests use the real trainer instead.
 */
export async function registerSyntheticTwoTower(options: {
  registryDir: string;
  rows: ItemFeatureRow[];
  seed: number;
  dim?: number;
  /** State to move the new version to (default trained). */
  state?: Extract<ModelState, 'trained' | 'training'>;
  model?: string;
}): Promise<VersionInfo<TwoTowerManifest>> {
  const dim = options.dim ?? 16;
  const model = options.model ?? TWO_TOWER_MODEL;
  const registry = new ModelRegistry(options.registryDir);
  const vocab = {
    items: buildVocab(options.rows.map((r) => r.item_id)),
    creators: buildVocab(options.rows.map((r) => r.creator_id)),
    topics: buildVocab(options.rows.map((r) => r.topic)),
    boards: buildVocab(options.rows.map((r) => r.board_id)),
    locales: buildVocab(LOCALES),
  };
  const inputs = { histLen: 20, followLen: 8, topicLen: 4 };
  const topicOf = new Map(vocab.topics.map((t, i) => [t, i]));
  const topicTable = seededWeights(vocab.topics.length * dim, options.seed * 7919 + 1);
  const noise = seededWeights(vocab.items.length * dim, options.seed * 7919 + 2);
  const itemTable = new Float32Array(vocab.items.length * dim);
  const rowOf = new Map(options.rows.map((r) => [r.item_id, r]));
  vocab.items.forEach((id, i) => {
    const t = topicOf.get(rowOf.get(id)?.topic ?? '') ?? 1;
    for (let j = 0; j < dim; j++) itemTable[i * dim + j] = topicTable[t * dim + j] + 0.6 * noise[i * dim + j];
  });
  const userTower = encodeOnnxModel({
    inputs: [
      { name: 'hist_items', type: 'int64', dims: ['batch', inputs.histLen] },
      { name: 'hist_weights', type: 'float32', dims: ['batch', inputs.histLen] },
      { name: 'follow_creators', type: 'int64', dims: ['batch', inputs.followLen] },
      { name: 'topics', type: 'int64', dims: ['batch', inputs.topicLen] },
      { name: 'locale', type: 'int64', dims: ['batch'] },
      { name: 'hour', type: 'int64', dims: ['batch'] },
    ],
    outputs: [{ name: USER_OUTPUT, type: 'float32', dims: ['batch', dim] }],
    initializers: [
      { name: 'E_items', dims: [vocab.items.length, dim], values: itemTable },
      { name: 'E_topics', dims: [vocab.topics.length, dim], values: topicTable },
    ],
    nodes: [
      { op: 'Gather', inputs: ['E_items', 'hist_items'], outputs: ['hist_vectors'], attributes: { axis: 0 } },
      { op: 'ReduceMean', inputs: ['hist_vectors'], outputs: ['hist_mean'], attributes: { axes: [1], keepdims: 0 } },
      { op: 'Gather', inputs: ['E_topics', 'topics'], outputs: ['topic_vectors'], attributes: { axis: 0 } },
      { op: 'ReduceMean', inputs: ['topic_vectors'], outputs: ['topic_mean'], attributes: { axes: [1], keepdims: 0 } },
      { op: 'Add', inputs: ['hist_mean', 'topic_mean'], outputs: ['user_raw'] },
      { op: 'LpNormalization', inputs: ['user_raw'], outputs: [USER_OUTPUT], attributes: { axis: 1, p: 2 } },
    ],
  });
  const itemTower = encodeOnnxModel({
    inputs: ITEM_INPUTS.map((name) => ({ name, type: 'int64' as const, dims: ['batch'] })),
    outputs: [{ name: ITEM_OUTPUT, type: 'float32', dims: ['batch', dim] }],
    initializers: [{ name: 'E_items', dims: [vocab.items.length, dim], values: itemTable }],
    nodes: [
      { op: 'Gather', inputs: ['E_items', 'item'], outputs: ['item_raw'], attributes: { axis: 0 } },
      { op: 'LpNormalization', inputs: ['item_raw'], outputs: [ITEM_OUTPUT], attributes: { axis: 1, p: 2 } },
    ],
  });
  const created = await registry.create<TwoTowerManifest>(model, async (tmp) => {
    await writeFile(path.join(tmp, USER_TOWER_FILE), userTower);
    await writeFile(path.join(tmp, ITEM_TOWER_FILE), itemTower);
    const manifest: Omit<TwoTowerManifest, 'model' | 'version' | 'createdAtMs' | 'artifacts'> = {
      kind: 'two_tower',
      dim,
      dataWindow: { startMs: 0, endMs: 0 },
      vocab,
      inputs,
      buckets: { ageDays: [1, 7, 30], popularity: [1, 10] },
      weighting: DEFAULT_WEIGHTING,
      onnx: { opset: 17, userInputs: [...USER_INPUTS], itemInputs: [...ITEM_INPUTS], userOutput: USER_OUTPUT, itemOutput: ITEM_OUTPUT },
      metrics: {},
      training: { synthetic: true, seed: options.seed },
    };
    return manifest;
  });
  if ((options.state ?? 'trained') === 'trained') await registry.setState(model, created.version, 'trained', 'synthetic test model');
  return registry.get<TwoTowerManifest>(model, created.version);
}


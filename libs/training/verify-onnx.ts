// Checks an exported two-tower model the way serving will use it: both ONNX files load in
// onnxruntime-node, take the inputs encodeUserBatch / encodeItemBatch produce, give [B, D] float32
// outputs of unit norm for any batch size, and agree with what PyTorch computed for the same rows.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  encodeItemBatch,
  ITEM_OUTPUT,
  itemInputNames,
  itemTowerInputs,
  type ItemFeatureRow,
  type TwoTowerEncoding,
  ITEM_TOWER_FILE,
  USER_INPUTS,
  USER_OUTPUT,
  USER_TOWER_FILE,
} from '../features/two-tower.js';
import { readNpy, type NpyArray } from './npy.js';
import type { DatasetManifest } from './two-tower-dataset.js';

/** Largest |onnxruntime − PyTorch| allowed per embedding value, and |‖e‖ − 1|. */
export const PARITY_TOLERANCE = 1e-4;
export const NORM_TOLERANCE = 1e-3;

export interface OnnxCheck {
  dim: number;
  users: number;
  items: number;
  maxAbsDiffUser: number;
  maxAbsDiffItem: number;
  maxNormError: number;
}

export interface TowerRun {
  data: Float32Array;
  dims: readonly number[];
}

/** Runs one tower session on named flat arrays with the given shapes. */
export async function runTower(
  session: ort.InferenceSession,
  inputs: Record<string, { data: NpyArray; dims: number[] }>,
  output: string,
): Promise<TowerRun> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, { data, dims }] of Object.entries(inputs)) {
    feeds[name] =
      data instanceof BigInt64Array
        ? new ort.Tensor('int64', data, dims)
        : new ort.Tensor('float32', data as Float32Array, dims);
  }
  const result = await session.run(feeds);
  const tensor = result[output];
  if (!tensor) throw new Error(`the model has no output "${output}" (outputs: ${Object.keys(result).join(', ')})`);
  if (tensor.type !== 'float32') throw new Error(`output ${output} is ${tensor.type}, expected float32`);
  return { data: tensor.data as Float32Array, dims: tensor.dims };
}

/**
 * A version's item tower (an open session) over catalog rows with their features as of asOfMs,
 * fed exactly the inputs the session takes: the indexer's encoding, as [rows × D] embeddings.
 */
export async function embedItemRows(
  session: ort.InferenceSession,
  manifest: TwoTowerEncoding & { onnx?: { itemOutput: string } },
  rows: readonly ItemFeatureRow[],
  asOfMs: number,
): Promise<Float32Array> {
  const feeds = itemTowerInputs(encodeItemBatch(rows, manifest, asOfMs), rows.length, manifest, session.inputNames);
  return (await runTower(session, feeds, manifest.onnx?.itemOutput ?? ITEM_OUTPUT)).data;
}

/** Rows [0, n) of dataset arrays `${prefix}${name}` as tower inputs. */
export async function datasetRows(
  datasetDir: string,
  manifest: DatasetManifest,
  prefix: string,
  names: readonly string[],
  n: number,
) {
  const out: Record<string, { data: NpyArray; dims: number[] }> = {};
  for (const name of names) {
    const entry = manifest.arrays[`${prefix}${name}`];
    if (!entry) throw new Error(`dataset ${datasetDir} has no array ${prefix}${name}`);
    const { data, shape } = await readNpy(path.join(datasetDir, entry.file));
    const width = shape.slice(1).reduce((a, b) => a * b, 1);
    out[name] = { data: data.slice(0, n * width) as NpyArray, dims: [n, ...shape.slice(1)] };
  }
  return out;
}

function checkEmbeddings(run: TowerRun, n: number, what: string): { dim: number; maxNormError: number } {
  if (run.dims.length !== 2 || run.dims[0] !== n)
    throw new Error(`${what}: output shape [${run.dims.join(', ')}], expected [${n}, D]`);
  const dim = run.dims[1];
  let maxNormError = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) {
      const v = run.data[i * dim + k];
      if (!Number.isFinite(v)) throw new Error(`${what}: row ${i} has a non-finite value`);
      s += v * v;
    }
    maxNormError = Math.max(maxNormError, Math.abs(Math.sqrt(s) - 1));
  }
  if (maxNormError > NORM_TOLERANCE)
    throw new Error(`${what}: embeddings are not unit-norm (max | ‖e‖ − 1 | = ${maxNormError.toExponential(2)})`);
  return { dim, maxNormError };
}

/** The largest elementwise difference of two vectors (Infinity when their lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Verifies user_tower.onnx and item_tower.onnx in modelDir against the check embeddings the
 * trainer wrote (check_user_embedding.npy, check_item_embedding.npy in checkDir) for the first
 * rows of the dataset. Throws with what is wrong; returns the measured agreement.
 */
export async function verifyTwoTowerOnnx(
  modelDir: string,
  datasetDir: string,
  manifest: DatasetManifest,
  check: { usersFrom: 'val' | 'train'; users: number; items: number; dim: number; checkDir: string },
): Promise<OnnxCheck> {
  const userSession = await ort.InferenceSession.create(path.join(modelDir, USER_TOWER_FILE));
  const itemSession = await ort.InferenceSession.create(path.join(modelDir, ITEM_TOWER_FILE));
  try {
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(userSession.inputNames, USER_INPUTS))
      throw new Error(
        `${USER_TOWER_FILE} inputs are [${userSession.inputNames.join(', ')}], expected [${USER_INPUTS.join(', ')}]`,
      );
    const itemInputs = itemInputNames(manifest.encoding);
    if (!same(itemSession.inputNames, itemInputs))
      throw new Error(
        `${ITEM_TOWER_FILE} inputs are [${itemSession.inputNames.join(', ')}], expected [${itemInputs.join(', ')}]`,
      );
    if (!same(userSession.outputNames, [USER_OUTPUT]))
      throw new Error(
        `${USER_TOWER_FILE} outputs are [${userSession.outputNames.join(', ')}], expected [${USER_OUTPUT}]`,
      );
    if (!same(itemSession.outputNames, [ITEM_OUTPUT]))
      throw new Error(
        `${ITEM_TOWER_FILE} outputs are [${itemSession.outputNames.join(', ')}], expected [${ITEM_OUTPUT}]`,
      );

    const userInputs = await datasetRows(datasetDir, manifest, `${check.usersFrom}_`, USER_INPUTS, check.users);
    const users = await runTower(userSession, userInputs, USER_OUTPUT);
    const u = checkEmbeddings(users, check.users, USER_TOWER_FILE);
    const itemRows = await datasetRows(datasetDir, manifest, 'items_', itemInputs, check.items);
    const items = await runTower(itemSession, itemRows, ITEM_OUTPUT);
    const v = checkEmbeddings(items, check.items, ITEM_TOWER_FILE);
    if (u.dim !== check.dim || v.dim !== check.dim)
      throw new Error(`embedding dimensions ${u.dim} (user) and ${v.dim} (item), the trainer reports ${check.dim}`);

    // Dynamic batch: one row alone gives the same answer as inside the batch.
    const single = await runTower(
      userSession,
      Object.fromEntries(
        Object.entries(userInputs).map(([k, { data, dims }]) => [
          k,
          {
            data: data.slice(
              0,
              dims.slice(1).reduce((a, b) => a * b, 1),
            ) as NpyArray,
            dims: [1, ...dims.slice(1)],
          },
        ]),
      ),
      USER_OUTPUT,
    );
    const singleDiff = maxAbsDiff(single.data, users.data.subarray(0, check.dim));
    if (singleDiff > PARITY_TOLERANCE)
      throw new Error(`${USER_TOWER_FILE}: a batch of one differs from the same row in a batch by ${singleDiff}`);

    const torchUsers = (await readNpy(path.join(check.checkDir, 'check_user_embedding.npy'))).data as Float32Array;
    const torchItems = (await readNpy(path.join(check.checkDir, 'check_item_embedding.npy'))).data as Float32Array;
    const maxAbsDiffUser = maxAbsDiff(users.data, torchUsers);
    const maxAbsDiffItem = maxAbsDiff(items.data, torchItems);
    if (maxAbsDiffUser > PARITY_TOLERANCE)
      throw new Error(`${USER_TOWER_FILE}: onnxruntime and PyTorch disagree by up to ${maxAbsDiffUser}`);
    if (maxAbsDiffItem > PARITY_TOLERANCE)
      throw new Error(`${ITEM_TOWER_FILE}: onnxruntime and PyTorch disagree by up to ${maxAbsDiffItem}`);
    return {
      dim: u.dim,
      users: check.users,
      items: check.items,
      maxAbsDiffUser,
      maxAbsDiffItem,
      maxNormError: Math.max(u.maxNormError, v.maxNormError),
    };
  } finally {
    await userSession.release();
    await itemSession.release();
  }
}

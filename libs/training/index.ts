// Training datasets and runs: the public surface.
export {
  itemFeatureRows,
  itemFeatureRowsFrom,
  itemFeatureSql,
  MAX_ITEM_BOARDS,
  popularitySql,
  POPULARITY_HALF_LIFE_DAYS,
} from './item-features.js';
export { UserReplay, loadEngagementEvents, KEPT_ACTIONS } from './replay.js';
export {
  buildTwoTowerDataset,
  DATASET_FILE,
  DEFAULT_BOARD_LEN,
  type DatasetManifest,
  type TwoTowerDataset,
  type TwoTowerDatasetOptions,
} from './two-tower-dataset.js';
export { trainTwoTower, type TrainTwoTowerOptions, type TrainTwoTowerResult } from './train-two-tower.js';
export { verifyTwoTowerOnnx, type OnnxCheck } from './verify-onnx.js';
export { evaluateTwoTower, heldOutSet, type HeldOutSet, type RetrievalMetrics } from './evaluate.js';
export {
  trainMf,
  buildMfDataset,
  factorRows,
  decodeFactor,
  MF_MODEL,
  MF_SNAPSHOT,
  mfFactors,
  type MfManifest,
  type MfSnapshotRow,
  type TrainMfOptions,
  type TrainMfResult,
} from './mf.js';
export { readNpy, writeNpy, encodeNpy, decodeNpy, type NpyArray } from './npy.js';
export { runPython, trainerScript, DEFAULT_PYTHON } from '../python/python.js';

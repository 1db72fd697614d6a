// The ranker's shared library: feature encoding (training and serving), the catalog it reads, the
// training-data builder, held-out evaluation and metrics.
export * from './encoding.js';
export * from './catalog.js';
export {
  buildRankerDataset,
  DATASET_FILE,
  VAL_REQUESTS_FILE,
  type RankerDataset,
  type RankerDatasetManifest,
  type RankerDatasetOptions,
  type ValRequests,
  type ValSession,
} from './dataset.js';
export {
  baselineSessions,
  heldoutMetrics,
  heldoutRequests,
  readValRequests,
  scoreHeldout,
  type HeldoutMetrics,
  type HeldoutSourceOptions,
  type ScoredSession,
} from './heldout.js';
export { auc, hitAtK, recallAtK } from './metrics.js';

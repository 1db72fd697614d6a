// The model registry's public surface.
export {
  ModelRegistry,
  verifyArtifacts,
  ArtifactIntegrityError,
  formatVersion,
  versionNumber,
  MANIFEST_FILE,
  STATE_FILE,
  type ArtifactEntry,
  type BaseManifest,
  type CreateOptions,
  type StateChange,
  type StateFile,
  type VersionInfo,
} from './registry.js';
export {
  MODEL_STATES,
  TRANSITIONS,
  PROTECTED_STATES,
  IllegalTransitionError,
  assertTransition,
  isModelState,
  type ModelState,
} from './states.js';
export { acquireProcessLock, LockHeldError, type ProcessLockHolder } from './fs-atomic.js';
export {
  CYCLES_DIR,
  cycleId,
  writeCycleReport,
  listCycleReports,
  lastCycleReport,
  type CycleReport,
  type CycleModelResult,
  type GateCheck,
} from './cycles.js';

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
export { MODEL_STATES, TRANSITIONS, PROTECTED_STATES, IllegalTransitionError, assertTransition, isModelState, type ModelState } from './states.js';

// The simulator's public surface.
export { simulateWorld, continueWorld, type SimulateOptions } from './simulate.js';
export { oracleTopK } from './oracle.js';
export { forEachUserTruth, type UserTruth } from './true-engagement.js';
export { PRESETS, isPresetName, presetByName, type Preset, type PresetName } from './presets.js';
export { readTruth, readTruthMeta, type Truth, type TruthMeta } from './truth.js';
export { MODEL, DIM, expectedEngagement } from './model.js';
export { SOURCES as INCUMBENT_SOURCES } from './incumbent.js';
export { LiveWorld, type LiveSession, type LiveAction } from './live-world.js';

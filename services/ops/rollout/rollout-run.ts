// One rollout's options, its result and the record of its stages: what the two-tower rollout
// (rollout.ts) and the ranker's (ranker-rollout.ts) share.
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { VersionInfo } from '../../../libs/registry/index.js';
import type { GuardReport, GuardThresholds } from './guards.js';

export interface RolloutOptions {
  /** The mesh config: where the viewer, ANN hosts, ranker and events are; its `rollout` section (canary, probe, guards). */
  mesh: MeshConfig;
  /** Model registry root (default: the mesh's, registryDirOf(mesh)). */
  registryDir?: string;
  /**
   * Registry model. The ranker's model (services.ranker.model, e.g. "ranker") rolls out through the
   * ranker; any model with an item tower (e.g. "two_tower") through viewer, index, canary and hosts.
   */
  model: string;
  /** Version to roll out (default: the newest `published` one). */
  version?: string;
  /** World whose catalog the indexer embeds (default: mesh.world.dir). */
  worldDir?: string;
  /** Overrides of mesh.rollout.guards. */
  guards?: Partial<GuardThresholds>;
  /** An artificially slow indexer (tests, demos): waits this long before building the index. */
  indexDelayMs?: number;
  log?: (line: string) => void;
}

export type RolloutStage = 'viewer' | 'index' | 'canary' | 'guards' | 'hosts' | 'ranker' | 'rollback' | 'done';

export interface RolloutResult {
  model: string;
  version: string;
  /** What served before (the rollback target); undefined on a first rollout. */
  previous?: string;
  outcome: 'serving' | 'rolled_back';
  /** Why it was rolled back. */
  reason?: string;
  guard?: GuardReport;
  /** Each stage as it ended: ms since the rollout started, and what happened. */
  stages: { stage: RolloutStage; atMs: number; detail: string }[];
}

/** A rollout's result, filled as it goes, and stage(): records a stage with its time since the start and logs it. */
export function startRollout(options: RolloutOptions, info: VersionInfo) {
  const { mesh, model } = options;
  const version = info.version;
  const log = options.log ?? (() => {});
  const started = Date.now();
  const result: RolloutResult = { model, version, outcome: 'serving', stages: [] };
  const stage = (name: RolloutStage, detail: string) => {
    result.stages.push({ stage: name, atMs: Date.now() - started, detail });
    log(`[${name}] ${detail}`);
  };
  return { mesh, model, version, log, result, stage };
}

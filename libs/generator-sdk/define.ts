import type { Candidate, UserContext } from '../../generated/feedloom/v1/common.js';
import type { GeneratorKindName, MeshConfig } from '../config/mesh.js';

/** What a generator is asked: the hydrated viewer and how many candidates to return at most. */
export interface GenerateInput {
  user: UserContext;
  quota: number;
  requestId: string;
}

/** What a generator has at hand while answering. */
export interface GeneratorContext<Data> {
  /** Its prepared snapshot data (see `prepare`). */
  data: Data;
  /** Its settings from the mesh config. */
  settings: Record<string, unknown>;
  /** Aborts when the caller gives up; long loops should check it. */
  signal: AbortSignal;
}

export type SnapshotRows = Record<string, unknown[]>;

export type GenerateResult = Candidate[] | { candidates: Candidate[]; modelVersion?: string };

/**
 * A candidate generator: a name mapped to one function, plus the snapshots it reads.
 * The SDK serves it over the CandidateGenerator interface with validation, deadlines, health,
 * metrics, tracing and snapshot reloads.
 */
export interface GeneratorModule<Data = SnapshotRows> {
  name: string;
  kind: GeneratorKindName;
  /** One line: what it proposes and why. */
  description: string;
  /** Its request-time cost, e.g. "O(quota): a slice of a precomputed list". */
  requestCost: string;
  /** Snapshot names (built by the batch jobs) it reads. */
  snapshots: readonly string[];
  /**
   * Builds the in-memory structures from snapshot rows, once per snapshot version, off the request
   * path. `mesh` is the config it is served from (where other services are), when it is served in one.
   */
  prepare?(rows: SnapshotRows, settings: Record<string, unknown>, mesh?: MeshConfig): Data;
  generate(input: GenerateInput, ctx: GeneratorContext<Data>): GenerateResult | Promise<GenerateResult>;
}

export function defineGenerator<Data = SnapshotRows>(module: GeneratorModule<Data>): GeneratorModule<Data> {
  return module;
}

/** A numeric setting with a default, for generator modules. */
export function numberSetting(settings: Record<string, unknown>, key: string, fallback: number): number {
  const value = settings[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

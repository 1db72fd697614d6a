// The messages between the generator pool (main thread) and its worker threads.
import type { MeshConfig } from '../config/mesh.js';

/** One generator a worker serves: its module file and what serveGenerator would be given. */
export interface PooledGenerator {
  name: string;
  /** file:// URL of the module (services/generators/<name>/generator.ts). */
  moduleUrl: string;
  settings: Record<string, unknown>;
  snapshotsDir: string;
  pollMs: number;
  mesh?: MeshConfig;
}

export interface WorkerData {
  generators: PooledGenerator[];
}

/** A generator's data in one worker: whether it can answer, and from which snapshot versions. */
export interface DataStatus {
  ready: boolean;
  versions: Record<string, string>;
  rows: Record<string, number>;
  error?: string;
}

export type ToWorker = {
  type: 'generate';
  id: number;
  name: string;
  /** The GenerateRequest as it arrived (protobuf); the worker decodes and validates it. */
  request: Uint8Array;
  requestId: string;
  /** ms since the epoch; the worker skips calls already past it and aborts the rest at it. */
  deadline: number;
};

export type FromWorker =
  | { type: 'status'; name: string; status: DataStatus }
  /** The answer encoded to protobuf in the worker; its buffer is transferred, not copied. */
  | { type: 'answer'; id: number; bytes: Uint8Array; candidateCount: number; modelVersion: string }
  | { type: 'failed'; id: number; code: number; message: string };

// Retraining cycle reports, kept in the registry beside the models (<root>/cycles/<id>.json) so
// `feedloom status` can show the last cycle: what was trained on which window, each candidate's
// held-out metrics next to the serving version's, which gates passed, and what was published.
import fs from 'node:fs/promises';
import path from 'node:path';
import { replaceFileAtomic } from './fs-atomic.js';

export const CYCLES_DIR = 'cycles';
const CYCLE_FILE = /^(\d{8}T\d{6}\d{3}Z)(-\d+)?\.json$/;

/** One gate of a validation: what was measured, the bound, and whether it held. */
export interface GateCheck {
  gate: string;
  passed: boolean;
  /** What a person reads, e.g. "recall@100 0.412 ≥ 0.050". */
  detail: string;
  value?: number;
  bound?: number;
}

/** What happened to one model in a cycle. */
export interface CycleModelResult {
  model: string;
  /** published: passed every gate; rejected: failed one (reasons); failed: training or evaluation threw (error); skipped: not trained. */
  outcome: 'published' | 'rejected' | 'failed' | 'skipped';
  version?: string;
  /** The version it was compared with (serving, else the newest published), if any. */
  incumbent?: string;
  /** Why it was rejected: the failed gates. */
  reasons: string[];
  /** Worth knowing, not blocking (e.g. the serving version could not be measured). */
  notes: string[];
  error?: string;
  checks: GateCheck[];
  /** Held-out metrics of the new version and of the incumbent, on the same data. */
  metrics: { candidate?: Record<string, number>; incumbent?: Record<string, number> };
  timings: Record<string, number>;
  /** What the rollout did with a published version (when the cycle ran with --rollout). */
  rollout?: { ok: boolean; detail: string };
}

export interface CycleReport {
  id: string;
  startedAtMs: number;
  finishedAtMs: number;
  durationMs: number;
  world: string;
  /** Training data [trainStartMs, heldoutStartMs); validation on [heldoutStartMs, endMs). */
  window: { trainStartMs: number; heldoutStartMs: number; endMs: number; windowDays: number; heldoutDays: number };
  /** The gate settings the cycle used (config `retrain.gates`). */
  gates: Record<string, unknown>;
  models: CycleModelResult[];
  /** Set when the cycle itself failed (e.g. the world could not be read) before judging any model. */
  error?: string;
  host: string;
  pid: number;
}

/** A sortable id from a time: 20260101T120000123Z. */
export function cycleId(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

/** Writes the report atomically as <root>/cycles/<id>.json (a reader never sees half of it); returns the path. */
export async function writeCycleReport(root: string, report: CycleReport): Promise<string> {
  const dir = path.join(path.resolve(root), CYCLES_DIR);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${report.id}.json`);
  await replaceFileAtomic(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/** The newest `limit` cycle reports, newest first; unreadable files are skipped. */
export async function listCycleReports(root: string, limit = 20): Promise<CycleReport[]> {
  const dir = path.join(path.resolve(root), CYCLES_DIR);
  const names = (await fs.readdir(dir).catch(() => [] as string[]))
    .filter((n) => CYCLE_FILE.test(n))
    .sort()
    .reverse();
  const out: CycleReport[] = [];
  for (const name of names) {
    if (out.length >= limit) break;
    try {
      out.push(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as CycleReport);
    } catch {
      // A file being replaced is renamed whole; anything else unreadable is not a report.
    }
  }
  return out;
}

/** The newest cycle report, or undefined when no cycle has run. */
export async function lastCycleReport(root: string): Promise<CycleReport | undefined> {
  return (await listCycleReports(root, 1))[0];
}

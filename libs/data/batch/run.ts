// Runs batch jobs over a world's event log with DuckDB and publishes each result as a snapshot.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { issueLines } from '../../config/mesh.js';
import { eventsView, newestEventMs, openDuck, queryRows, sqlString } from '../duck.js';
import { currentSnapshotAsOfMs, publishSnapshot } from '../snapshots.js';
import { DAY_MS, readWorldManifest, worldPaths } from '../world.js';
import { isComputedJob, type BatchJob, type BatchParams, type ComputedBatchJob, type SqlBatchJob } from './job.js';
import { BATCH_JOBS } from './jobs/index.js';

export interface RunBatchJobsOptions {
  worldDir: string;
  /** Default: <worldDir>/snapshots. */
  snapshotsDir?: string;
  /** Only events before this time are used. Default: eventLogEndMs (all of the log, the live events too). */
  asOfMs?: number;
  /** Job names to run; default all. */
  only?: string[];
  /** Versions kept per snapshot after publishing (default 3). */
  keep?: number;
  /** The mesh config's `batch` section: settings of the jobs that take some, by job name. */
  settings?: Record<string, Record<string, unknown>>;
  /** Events beyond the world's own files (the event stream's open days), laid out like the live log. */
  extraLiveDirs?: readonly string[];
  log?: (line: string) => void;
}

export interface BatchJobResult {
  name: string;
  version: string;
  rows: number;
  ms: number;
  /** What the job said about this run, e.g. why its snapshot is empty. */
  notes?: string[];
}

export async function runBatchJobs(options: RunBatchJobsOptions): Promise<BatchJobResult[]> {
  const asOfMs = options.asOfMs ?? (await eventLogEndMs(options.worldDir, options.extraLiveDirs));
  const snapshotsDir = options.snapshotsDir ?? worldPaths(options.worldDir).snapshots;
  const jobs = selectJobs(options.only);
  const settings = jobSettings(jobs, options.settings ?? {});
  const log = options.log ?? (() => {});

  const duck = await openDuck();
  const results: BatchJobResult[] = [];
  try {
    await eventsView(duck.conn, options.worldDir, { beforeMs: asOfMs, extraLiveDirs: options.extraLiveDirs });
    const params: BatchParams = { asOfMs, dayMs: DAY_MS };
    for (const job of jobs) {
      const started = performance.now();
      const notes: string[] = [];
      const note = (line: string) => {
        notes.push(line);
        log(`${job.name}: ${line}`);
      };
      const rows = isComputedJob(job)
        ? await computedRows(duck.conn, job, { params, settings: settings.get(job.name), note })
        : await queryResult(duck.conn, job, params);
      const published = await publishSnapshot(snapshotsDir, job.name, async (tmpDir) => rows.write(tmpDir), {
        asOfMs,
        job: job.name,
        keep: options.keep ?? 3,
      });
      await rows.done?.();
      const ms = performance.now() - started;
      results.push({
        name: job.name,
        version: published.version,
        rows: rows.count,
        ms,
        ...(notes.length ? { notes } : {}),
      });
      log(`${job.name}: ${rows.count} rows in ${ms.toFixed(0)} ms (${published.version})`);
    }
  } finally {
    duck.close();
  }
  return results;
}

/**
 * Where a world's event log ends: the end of its last day, or just after its newest event when the
 * live log goes further (the Events service's clock runs on from the world's end).
 */
export async function eventLogEndMs(worldDir: string, extraLiveDirs?: readonly string[]): Promise<number> {
  const manifest = await readWorldManifest(worldDir);
  const duck = await openDuck();
  try {
    return Math.max(
      manifest.startMs + manifest.days * DAY_MS,
      (await newestEventMs(duck.conn, worldDir, { extraLiveDirs })) + 1,
    );
  } finally {
    duck.close();
  }
}

/**
 * The batch jobs whose served snapshot does not yet cover the events before asOfMs: the ones a run
 * would change. None right after `up` prepared the world, or while no event was logged since.
 */
export async function staleBatchJobs(snapshotsDir: string, asOfMs: number): Promise<string[]> {
  const stale: string[] = [];
  for (const job of BATCH_JOBS)
    if (((await currentSnapshotAsOfMs(snapshotsDir, job.name)) ?? -Infinity) < asOfMs) stale.push(job.name);
  return stale;
}

/** A job's rows, ready to be written into a snapshot's folder. */
interface JobRows {
  count: number;
  write(tmpDir: string): Promise<{ rows: number }>;
  done?(): Promise<void>;
}

async function queryResult(conn: DuckDBConnection, job: SqlBatchJob, params: BatchParams): Promise<JobRows> {
  // Materialize once: the row count comes from the same result that is written out.
  await conn.run(`CREATE OR REPLACE TEMP TABLE job_result AS ${job.sql(params)}`);
  const [{ n }] = await queryRows<{ n: number }>(conn, 'SELECT count(*) AS n FROM job_result');
  return {
    count: n,
    async write(tmpDir) {
      await conn.run(`COPY job_result TO ${sqlString(path.join(tmpDir, 'rows.json'))} (FORMAT JSON, ARRAY true)`);
      return { rows: n };
    },
    done: () => conn.run('DROP TABLE job_result').then(() => undefined),
  };
}

async function computedRows(
  conn: DuckDBConnection,
  job: ComputedBatchJob,
  o: { params: BatchParams; settings: unknown; note: (line: string) => void },
): Promise<JobRows> {
  const rows = await job.compute({ ...o, query: (sql) => queryRows(conn, sql) } as Parameters<typeof job.compute>[0]);
  return {
    count: rows.length,
    async write(tmpDir) {
      await writeFile(path.join(tmpDir, 'rows.json'), JSON.stringify(rows));
      return { rows: rows.length };
    },
  };
}

/**
 * The settings of each computed job to run, validated against its schema (strict, defaults filled
 * in); throws naming every bad field (`batch.ease_neighbors.lambda: …`), also for settings given
 * to a job that takes none.
 */
function jobSettings(jobs: readonly BatchJob[], raw: Record<string, Record<string, unknown>>): Map<string, unknown> {
  const issues: string[] = [];
  const takesSettings = new Map(BATCH_JOBS.filter(isComputedJob).map((j) => [j.name, j]));
  for (const name of Object.keys(raw))
    if (!takesSettings.has(name))
      issues.push(
        `batch.${name}: no batch job "${name}" takes settings (jobs that do: ${[...takesSettings.keys()].join(', ')})`,
      );
  const parsed = new Map<string, unknown>();
  for (const job of jobs.filter(isComputedJob)) {
    const result = job.settings.strict().safeParse(raw[job.name] ?? {});
    if (result.success) parsed.set(job.name, result.data);
    else issues.push(...issueLines(result.error, ['batch', job.name]));
  }
  if (issues.length) throw new Error(`invalid batch job settings:\n  ${issues.join('\n  ')}`);
  return parsed;
}

function selectJobs(only?: string[]) {
  if (!only) return BATCH_JOBS;
  const known = new Set(BATCH_JOBS.map((j) => j.name));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new Error(`unknown batch job(s): ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  return BATCH_JOBS.filter((j) => only.includes(j.name));
}

// Runs batch jobs over a world's event log with DuckDB and publishes each result as a snapshot.
import path from 'node:path';
import { eventsView, openDuck, queryRows, sqlString } from '../duck.js';
import { publishSnapshot } from '../snapshots.js';
import { DAY_MS, readWorldManifest, worldPaths } from '../world.js';
import { BATCH_JOBS } from './jobs/index.js';

export interface RunBatchJobsOptions {
  worldDir: string;
  /** Default: <worldDir>/snapshots. */
  snapshotsDir?: string;
  /** Only events before this time are used. Default: the end of the world's last day. */
  asOfMs?: number;
  /** Job names to run; default all. */
  only?: string[];
  /** Versions kept per snapshot after publishing (default 3). */
  keep?: number;
  log?: (line: string) => void;
}

export interface BatchJobResult {
  name: string;
  version: string;
  rows: number;
  ms: number;
}

export async function runBatchJobs(options: RunBatchJobsOptions): Promise<BatchJobResult[]> {
  const manifest = await readWorldManifest(options.worldDir);
  const asOfMs = options.asOfMs ?? manifest.startMs + manifest.days * DAY_MS;
  const snapshotsDir = options.snapshotsDir ?? worldPaths(options.worldDir).snapshots;
  const jobs = selectJobs(options.only);
  const log = options.log ?? (() => {});

  const duck = await openDuck();
  const results: BatchJobResult[] = [];
  try {
    await eventsView(duck.conn, options.worldDir, { beforeMs: asOfMs });
    for (const job of jobs) {
      const started = performance.now();
      // Materialize once: the row count comes from the same result that is written out.
      await duck.conn.run(`CREATE OR REPLACE TEMP TABLE job_result AS ${job.sql({ asOfMs, dayMs: DAY_MS })}`);
      const [{ n }] = await queryRows<{ n: number }>(duck.conn, 'SELECT count(*) AS n FROM job_result');
      const published = await publishSnapshot(
        snapshotsDir,
        job.name,
        async (tmpDir) => {
          await duck.conn.run(
            `COPY job_result TO ${sqlString(path.join(tmpDir, 'rows.json'))} (FORMAT JSON, ARRAY true)`,
          );
          return { rows: n };
        },
        { asOfMs, job: job.name, keep: options.keep ?? 3 },
      );
      await duck.conn.run('DROP TABLE job_result');
      const ms = performance.now() - started;
      results.push({ name: job.name, version: published.version, rows: n, ms });
      log(`${job.name}: ${n} rows in ${ms.toFixed(0)} ms (${published.version})`);
    }
  } finally {
    duck.close();
  }
  return results;
}

function selectJobs(only?: string[]) {
  if (!only) return BATCH_JOBS;
  const known = new Set(BATCH_JOBS.map((j) => j.name));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new Error(`unknown batch job(s): ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  return BATCH_JOBS.filter((j) => only.includes(j.name));
}

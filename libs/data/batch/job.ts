// What a batch job is: a name, a one-line description, and how its snapshot's rows are made:
// a DuckDB query over the `events` view and the catalog views (most jobs), or, for work SQL cannot
// do (a matrix inverse), a computation in-process over what it queries. A job is also the
// snapshot's contract: it declares the type of its rows, which every reader takes from it.
import type { z } from 'zod';
import type { SnapshotContract } from '../snapshots.js';

export interface BatchParams {
  /** Only events before this time are visible to the query (the views are already cut there). */
  asOfMs: number;
  dayMs: number;
}

interface BatchJobBase<Row, Name extends string> extends SnapshotContract<Name, Row> {
  description: string;
}

/** A job whose rows are the result of one query. */
export interface SqlBatchJob<Row = unknown, Name extends string = string> extends BatchJobBase<Row, Name> {
  sql(params: BatchParams): string;
}

/** What a computed job is handed. */
export interface ComputeContext<Settings> {
  params: BatchParams;
  /** Its settings from the mesh config (`batch.<job name>`), validated, defaults filled in. */
  settings: Settings;
  /** Runs a query over the same views the SQL jobs read (events cut at asOfMs, the catalog). */
  query<T>(sql: string): Promise<T[]>;
  /** One line on this run, e.g. why the snapshot is empty: logged, and kept in the job's result. */
  note(line: string): void;
}

/**
 * A job whose rows are computed in-process from what it queries. It takes settings (a zod object,
 * strict like a generator's): `batch.<name>` in the mesh config.
 */
export interface ComputedBatchJob<
  Row = unknown,
  Name extends string = string,
  Settings extends z.AnyZodObject = z.AnyZodObject,
> extends BatchJobBase<Row, Name> {
  settings: Settings;
  compute(ctx: ComputeContext<z.output<Settings>>): Promise<Row[]>;
}

export type BatchJob<Row = unknown, Name extends string = string> =
  SqlBatchJob<Row, Name> | ComputedBatchJob<Row, Name>;

export const isComputedJob = (job: BatchJob): job is ComputedBatchJob => 'compute' in job;

/**
 * A batch job whose rows are Row: `defineBatchJob<MyRow>()({ name: 'my_job', description, sql })`,
 * or `({ name, description, settings, compute })` for a computed one.
 */
export function defineBatchJob<Row>() {
  function define<const Name extends string>(job: Omit<SqlBatchJob<Row, Name>, '__row'>): SqlBatchJob<Row, Name>;
  function define<const Name extends string, Settings extends z.AnyZodObject>(
    job: Omit<ComputedBatchJob<Row, Name, Settings>, '__row'>,
  ): ComputedBatchJob<Row, Name, Settings>;
  function define(job: object) {
    return job;
  }
  return define;
}

/** An item with a score, the element of most ranked lists the jobs build. */
export interface ScoredItem {
  item_id: string;
  score: number;
}

/** Engagement weight of an action, shared by the jobs that score engagement. */
export const ENGAGEMENT_WEIGHT_SQL = `CASE action WHEN 'save' THEN 3.0 WHEN 'click' THEN 1.0 ELSE 0.0 END`;

/** Decay factor for an event at time column `col`, halving every halfLifeDays before asOfMs. */
export function decaySql(col: string, params: BatchParams, halfLifeDays: number): string {
  return `pow(0.5, (${params.asOfMs} - ${col}) / ${halfLifeDays * params.dayMs}.0)`;
}

// What a batch job is: a name, a one-line description, and a DuckDB query over the `events`
// view and the catalog views whose result rows become the job's snapshot. A job is also the
// snapshot's contract: it declares the type of its rows, which every reader takes from it.
import type { SnapshotContract } from '../snapshots.js';

export interface BatchParams {
  /** Only events before this time are visible to the query (the views are already cut there). */
  asOfMs: number;
  dayMs: number;
}

export interface BatchJob<Row = unknown, Name extends string = string> extends SnapshotContract<Name, Row> {
  description: string;
  sql(params: BatchParams): string;
}

/** A batch job whose rows are Row: `defineBatchJob<MyRow>()({ name: 'my_job', description, sql })`. */
export function defineBatchJob<Row>() {
  return <const Name extends string>(job: Omit<BatchJob<Row, Name>, '__row'>): BatchJob<Row, Name> => job;
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

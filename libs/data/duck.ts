// Small DuckDB helpers: open an in-memory engine, read rows as plain objects, bulk-append
// columns, and expose a world's event log and catalog as SQL views.
import fs from 'node:fs';
import path from 'node:path';
import {
  BOOLEAN,
  DOUBLE,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  VARCHAR,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { notShadowedSql } from './live-files.js';
import { CATALOG_TABLES, CATALOG_TIME_COLUMN, TABLE_COLUMNS, worldPaths, type CatalogTable } from './world.js';

export interface Duck {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

export async function openDuck(options: Record<string, string> = {}): Promise<Duck> {
  const instance = await DuckDBInstance.create(':memory:', options);
  const conn = await instance.connect();
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** Runs sql and returns rows as plain objects; BIGINTs become numbers, also inside lists and structs. */
export async function queryRows<T = Record<string, unknown>>(conn: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => toPlain(row) as T);
}

function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toPlain(v);
    return out;
  }
  return value;
}

/** A SQL string literal (single quotes doubled). */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export type AppendType = 'INTEGER' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN';
const APPEND_TYPES: Record<AppendType, DuckDBType> = { INTEGER, DOUBLE, VARCHAR, BOOLEAN };

export interface AppendColumn {
  name: string;
  type: AppendType;
  /** Typed arrays are fine; null means SQL NULL. */
  values: ArrayLike<DuckDBValue>;
}

/**
 * Creates (or replaces) table and fills it from column arrays through an appender, one data chunk
 * at a time: several times faster than writing CSV and parsing it again.
 */
export async function appendColumns(
  conn: DuckDBConnection,
  table: string,
  columns: AppendColumn[],
  rowCount: number,
): Promise<void> {
  const columnSql = columns.map((c) => `"${c.name}" ${c.type}`).join(', ');
  await conn.run(`CREATE OR REPLACE TABLE "${table}" (${columnSql})`);
  const types = columns.map((c) => APPEND_TYPES[c.type]);
  const appender = await conn.createAppender(table);
  const CHUNK = 2048;
  for (let offset = 0; offset < rowCount; offset += CHUNK) {
    const n = Math.min(CHUNK, rowCount - offset);
    const chunk = DuckDBDataChunk.create(types, n);
    // setColumns only indexes each column, so typed-array views work as they are.
    chunk.setColumns(columns.map((c) => sliceOf(c.values, offset, n)) as unknown as DuckDBValue[][]);
    appender.appendDataChunk(chunk);
  }
  appender.closeSync();
}

function sliceOf(values: ArrayLike<DuckDBValue>, offset: number, n: number): ArrayLike<DuckDBValue> {
  const v = values as unknown as {
    subarray?: (a: number, b: number) => ArrayLike<DuckDBValue>;
    slice?: (a: number, b: number) => ArrayLike<DuckDBValue>;
  };
  if (typeof v.subarray === 'function') return v.subarray(offset, offset + n);
  if (typeof v.slice === 'function') return v.slice(offset, offset + n);
  return Array.from({ length: n }, (_, i) => values[offset + i]);
}

/** A query yielding no rows but exactly the columns of table. */
export function emptyTableSql(table: keyof typeof TABLE_COLUMNS): string {
  const cols = Object.entries(TABLE_COLUMNS[table]).map(([name, type]) => `NULL::${type} AS ${name}`);
  return `SELECT ${cols.join(', ')} WHERE false`;
}

function hasFiles(dir: string, pattern: RegExp, depth: number): boolean {
  if (!fs.existsSync(dir)) return false;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && pattern.test(entry.name)) return true;
    if (
      entry.isDirectory() &&
      depth > 0 &&
      entry.name.startsWith('day=') &&
      hasFiles(path.join(dir, entry.name), pattern, depth - 1)
    ) {
      return true;
    }
  }
  return false;
}

export interface EventsViewOptions {
  /** Only events (and catalog rows) strictly before this time are visible. */
  beforeMs?: number;
  /**
   * More directories laid out like the live log (day=DAY folders of .jsonl files), read as it is but not checked
   * against compacted days: the event stream's open days exported for a batch run (stream-open-days.ts).
   */
  extraLiveDirs?: readonly string[];
}

/**
 * Creates the view `events` (all closed Parquet partitions UNION ALL the live JSONL files of the
 * Events service) and one view per catalog table. With beforeMs, everything that happened at or
 * after it is hidden: events, and catalog rows by their own time column (signup, creation, follow,
 * board add). Absent tables become empty views with the same columns, so the same SQL runs on
 * imported worlds. The views re-list files on every query, so new live files are picked up.
 */
export async function eventsView(
  conn: DuckDBConnection,
  worldDir: string,
  options: EventsViewOptions = {},
): Promise<void> {
  const paths = worldPaths(worldDir);
  const before = options.beforeMs;
  const cols = Object.keys(TABLE_COLUMNS.events).join(', ');
  const parts: string[] = [];

  if (hasFiles(paths.events, /\.parquet$/, 1)) {
    const glob = sqlString(path.join(paths.events, 'day=*', '*.parquet'));
    parts.push(`SELECT ${cols} FROM read_parquet(${glob}, hive_partitioning = false, union_by_name = true)`);
  }
  // Live files already compacted into a Parquet day are skipped (live-files.ts), so no event counts twice.
  if (hasFiles(paths.live, /\.jsonl$/, 1)) parts.push(liveLinesSql(paths.live, notShadowedSql(paths.events)));
  for (const dir of options.extraLiveDirs ?? []) if (hasFiles(dir, /\.jsonl$/, 1)) parts.push(liveLinesSql(dir));
  if (parts.length === 0) parts.push(emptyTableSql('events'));
  const eventsSql = parts.map((p) => `(${p})`).join(' UNION ALL ');
  const eventsFilter = before === undefined ? '' : ` WHERE time_ms < ${Math.floor(before)}`;
  await conn.run(`CREATE OR REPLACE VIEW events AS SELECT * FROM (${eventsSql})${eventsFilter}`);

  for (const table of CATALOG_TABLES) await catalogView(conn, worldDir, table, before);
}

/**
 * Events of live-log lines under dir/day=*: live events carry no session or slot, so the Blend
 * request id stands in for the session; empty strings mean "none" there and become NULL here.
 * ignore_errors skips a line the Events service is still writing; the next run reads it whole.
 */
function liveLinesSql(dir: string, extraWhere?: string): string {
  const glob = sqlString(path.join(dir, 'day=*', '*.jsonl'));
  return `SELECT user_id, item_id, action, time_ms, NULLIF(board_id, '') AS board_id,
      NULLIF(request_id, '') AS session_id, NULL::INTEGER AS position, NULLIF(source, '') AS source
    FROM read_json(${glob}, format = 'newline_delimited', ignore_errors = true, filename = true,
      columns = {user_id: 'VARCHAR', item_id: 'VARCHAR', action: 'VARCHAR', time_ms: 'BIGINT',
                 board_id: 'VARCHAR', source: 'VARCHAR', request_id: 'VARCHAR', seq: 'BIGINT'})
    WHERE user_id IS NOT NULL AND item_id IS NOT NULL AND time_ms IS NOT NULL${extraWhere ? ` AND ${extraWhere}` : ''}`;
}

async function catalogView(
  conn: DuckDBConnection,
  worldDir: string,
  table: CatalogTable,
  beforeMs?: number,
): Promise<void> {
  const file = worldPaths(worldDir).table(table);
  const cols = Object.keys(TABLE_COLUMNS[table]).join(', ');
  let sql = fs.existsSync(file) ? `SELECT ${cols} FROM read_parquet(${sqlString(file)})` : emptyTableSql(table);
  const timeColumn = CATALOG_TIME_COLUMN[table];
  if (beforeMs !== undefined && timeColumn)
    sql = `SELECT * FROM (${sql}) WHERE ${timeColumn} < ${Math.floor(beforeMs)}`;
  await conn.run(`CREATE OR REPLACE VIEW ${table} AS ${sql}`);
}

/** The newest event time in a world's whole log (Parquet days and live), or 0 when it is empty. */
export async function newestEventMs(
  conn: DuckDBConnection,
  worldDir: string,
  options: Pick<EventsViewOptions, 'extraLiveDirs'> = {},
): Promise<number> {
  await eventsView(conn, worldDir, options);
  const [{ newest }] = await queryRows<{ newest: number | null }>(conn, 'SELECT max(time_ms) AS newest FROM events');
  return newest ?? 0;
}

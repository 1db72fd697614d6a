// Turns a CSV/TSV interaction file into a world (source 'import'). Columns are mapped by flags, so
// a MovieLens u.data loads as it is: --columns user,item,rating,timestamp --sep tab. Every row
// that cannot be used is reported with its line number and reason; nothing is dropped silently,
// and nothing the file lacks (creators, boards, topics, locales) is invented.
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import type { DuckDBConnection } from '@duckdb/node-api';
import { claimWorldDir } from './world-dir.js';
import { appendColumns, emptyTableSql, openDuck, queryRows, sqlString } from './duck.js';
import { ACTIONS, DAY_MS, TABLE_COLUMNS, worldPaths, writeWorldManifest, type WorldManifest } from './world.js';

export type ImportColumn = 'user' | 'item' | 'rating' | 'timestamp' | 'action' | 'skip';

export interface ImportOptions {
  input: string;
  dir: string;
  /** 'tab' | 'comma' | 'semicolon' | 'pipe', or the separator itself (e.g. '::'). */
  sep: string;
  columns: string[];
  /** Unit of numeric timestamps; default: seconds if every value is below 1e11, else milliseconds. */
  timestampUnit?: 's' | 'ms';
  /** Skip the first line. */
  header?: boolean;
  /** Ratings at or above this become saves, lower ones clicks (default 4). */
  minRatingForSave?: number;
  /** World name; default: the input file's name. */
  name?: string;
  /** Replace whatever world dir holds (it is moved aside, never deleted). */
  force?: boolean;
}

export interface ImportResult {
  imported: number;
  rejected: { line: number; reason: string }[];
  world: WorldManifest;
  timestampUnit: 's' | 'ms';
  /** Where the world that was in dir before went. */
  movedTo?: string;
}

const worldName = (options: ImportOptions) => options.name ?? path.basename(options.input);

const NAMED_SEPARATORS: Record<string, string> = { tab: '\t', comma: ',', semicolon: ';', pipe: '|', space: ' ' };
const COLUMN_NAMES: ImportColumn[] = ['user', 'item', 'rating', 'timestamp', 'action', 'skip'];
/** A session ends after this much silence (imported logs carry no sessions of their own). */
const SESSION_GAP_MS = 30 * 60 * 1000;
const FLUSH_ROWS = 50_000;

export async function importInteractions(options: ImportOptions): Promise<ImportResult> {
  const sep = NAMED_SEPARATORS[options.sep] ?? options.sep;
  if (sep === '') throw new Error('sep must not be empty');
  const columns = checkColumns(options.columns);
  const at = (name: ImportColumn) => columns.indexOf(name);
  const [userAt, itemAt, ratingAt, tsAt, actionAt] = [
    at('user'),
    at('item'),
    at('rating'),
    at('timestamp'),
    at('action'),
  ];
  const minRatingForSave = options.minRatingForSave ?? 4;

  await fs.access(options.input).catch(() => {
    throw new Error(`import input ${options.input} cannot be read`);
  });
  const duck = await openDuck();
  try {
    const { conn } = duck;
    await conn.run(
      'CREATE TABLE raw (line INTEGER, user_key VARCHAR, item_key VARCHAR, action VARCHAR, ts DOUBLE, ts_is_ms BOOLEAN)',
    );
    const rejected: { line: number; reason: string }[] = [];
    let batch = newBatch();
    let maxNumericTs = -Infinity;
    let lineNo = 0;

    const lines = readline.createInterface({ input: createReadStream(options.input, 'utf8'), crlfDelay: Infinity });
    for await (const rawLine of lines) {
      lineNo++;
      if (lineNo === 1 && options.header) continue;
      const line = lineNo === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
      if (line.trim() === '') {
        rejected.push({ line: lineNo, reason: 'empty line' });
        continue;
      }
      const fields = splitLine(line, sep);
      if (fields.length !== columns.length) {
        rejected.push({
          line: lineNo,
          reason: `expected ${columns.length} fields separated by ${describeSep(sep)}, found ${fields.length}`,
        });
        continue;
      }
      const user = fields[userAt].trim();
      const item = fields[itemAt].trim();
      if (user === '') {
        rejected.push({ line: lineNo, reason: 'user is empty' });
        continue;
      }
      if (item === '') {
        rejected.push({ line: lineNo, reason: 'item is empty' });
        continue;
      }
      const time = parseTimestamp(fields[tsAt].trim());
      if (typeof time === 'string') {
        rejected.push({ line: lineNo, reason: time });
        continue;
      }
      const action = actionOf(
        actionAt >= 0 ? fields[actionAt].trim() : '',
        ratingAt >= 0 ? fields[ratingAt].trim() : undefined,
        minRatingForSave,
      );
      if (action.error) {
        rejected.push({ line: lineNo, reason: action.error });
        continue;
      }
      if (!time.isMs) maxNumericTs = Math.max(maxNumericTs, time.value);
      batch.line.push(lineNo);
      batch.user.push(user);
      batch.item.push(item);
      batch.action.push(action.action!);
      batch.ts.push(time.value);
      batch.isMs.push(time.isMs);
      if (batch.line.length >= FLUSH_ROWS) {
        await flush(conn, batch);
        batch = newBatch();
      }
    }
    await flush(conn, batch);

    const [{ n: imported }] = await queryRows<{ n: number }>(conn, 'SELECT count(*) AS n FROM raw');
    if (imported === 0) {
      const sample = rejected
        .slice(0, 5)
        .map((r) => `line ${r.line}: ${r.reason}`)
        .join('; ');
      throw new Error(`no usable rows in ${options.input} (${lineNo} lines${sample ? `; ${sample}` : ''})`);
    }
    const timestampUnit = options.timestampUnit ?? (maxNumericTs < 1e11 ? 's' : 'ms');
    // Only now that the file is known to be usable is dir claimed. An earlier import of the same
    // file that nothing was logged into is replaced (moved aside); anything else needs --force.
    const name = worldName(options);
    const { movedTo } = await claimWorldDir(options.dir, {
      force: options.force,
      replaceable: (old) => old.source === 'import' && old.name === name,
      forceHint: 'feedloom import --force',
      otherwise: 'import into an empty directory',
    });
    const world = await writeWorld(conn, options, timestampUnit === 's' ? 1000 : 1);
    return { imported, rejected, world, timestampUnit, movedTo };
  } finally {
    duck.close();
  }
}

function checkColumns(columns: string[]): ImportColumn[] {
  const names = columns.map((c) => c.trim().toLowerCase());
  const unknown = names.filter((c) => !COLUMN_NAMES.includes(c as ImportColumn));
  if (unknown.length > 0)
    throw new Error(`unknown import column(s) ${unknown.join(', ')} (expected names among ${COLUMN_NAMES.join(', ')})`);
  for (const required of ['user', 'item', 'timestamp']) {
    if (!names.includes(required))
      throw new Error(`import columns must include '${required}' (got ${names.join(',')})`);
  }
  for (const once of ['user', 'item', 'timestamp', 'rating', 'action']) {
    if (names.filter((c) => c === once).length > 1) throw new Error(`import column '${once}' is given more than once`);
  }
  return names as ImportColumn[];
}

/** Splits on sep; a single-character separator also honours double-quoted fields ("a,b", "say ""hi"""). */
function splitLine(line: string, sep: string): string[] {
  if (sep.length !== 1 || !line.includes('"')) return line.split(sep);
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === sep) {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

function describeSep(sep: string): string {
  const name = Object.entries(NAMED_SEPARATORS).find(([, s]) => s === sep)?.[0];
  return name ? `${name}s` : `'${sep}'`;
}

const NUMBER = /^\d+(\.\d+)?([eE][+-]?\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** A numeric timestamp (unit decided later), an ISO-8601 date (read as UTC without a zone), or the reason it is neither. */
function parseTimestamp(text: string): { value: number; isMs: boolean } | string {
  if (text === '') return 'timestamp is empty';
  if (NUMBER.test(text)) return { value: Number(text), isMs: false };
  if (/^-\d/.test(text)) return `timestamp '${clip(text)}' is negative`;
  if (ISO_DATE.test(text)) {
    let iso = text.replace(' ', 'T');
    if (iso.length > 10 && !/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
    const ms = Date.parse(iso);
    if (Number.isFinite(ms) && ms >= 0) return { value: ms, isMs: true };
  }
  return `timestamp '${clip(text)}' is neither a number nor an ISO-8601 date`;
}

function actionOf(
  actionText: string,
  ratingText: string | undefined,
  minRatingForSave: number,
): { action?: string; error?: string } {
  if (actionText !== '') {
    const action = actionText.toLowerCase();
    if (!(ACTIONS as readonly string[]).includes(action))
      return { error: `unknown action '${clip(actionText)}' (expected ${ACTIONS.join('|')})` };
    return { action };
  }
  if (ratingText !== undefined) {
    if (ratingText === '') return { error: 'rating is empty' };
    const rating = Number(ratingText);
    if (!Number.isFinite(rating)) return { error: `rating '${clip(ratingText)}' is not a number` };
    return { action: rating >= minRatingForSave ? 'save' : 'click' };
  }
  return { action: 'click' };
}

const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

function newBatch() {
  return {
    line: [] as number[],
    user: [] as string[],
    item: [] as string[],
    action: [] as string[],
    ts: [] as number[],
    isMs: [] as boolean[],
  };
}

async function flush(conn: DuckDBConnection, b: ReturnType<typeof newBatch>): Promise<void> {
  if (b.line.length === 0) return;
  await appendColumns(
    conn,
    'raw_batch',
    [
      { name: 'line', type: 'INTEGER', values: b.line },
      { name: 'user_key', type: 'VARCHAR', values: b.user },
      { name: 'item_key', type: 'VARCHAR', values: b.item },
      { name: 'action', type: 'VARCHAR', values: b.action },
      { name: 'ts', type: 'DOUBLE', values: b.ts },
      { name: 'ts_is_ms', type: 'BOOLEAN', values: b.isMs },
    ],
    b.line.length,
  );
  await conn.run('INSERT INTO raw SELECT * FROM raw_batch');
}

/**
 * Writes the event log (each interaction is an impression, plus its action when that is not
 * itself an impression; sessions split at 30 minutes of silence), the users and items seen in
 * it, empty tables for what the file lacks, and the manifest. Ids get the world's prefixes:
 * user 196 becomes u196, item 242 becomes i242.
 */
async function writeWorld(conn: DuckDBConnection, options: ImportOptions, msPerUnit: number): Promise<WorldManifest> {
  const paths = worldPaths(options.dir);
  await conn.run(`
    CREATE TABLE interactions AS
    SELECT line, 'u' || user_key AS user_id, 'i' || item_key AS item_id, action,
           CAST(round(CASE WHEN ts_is_ms THEN ts ELSE ts * ${msPerUnit} END) AS BIGINT) AS time_ms
    FROM raw`);
  await conn.run(`
    CREATE TABLE ev AS
    WITH expanded AS (
      SELECT user_id, item_id, 'impression' AS action, time_ms, line, 0 AS step FROM interactions
      UNION ALL
      SELECT user_id, item_id, action, time_ms, line, 1 AS step FROM interactions WHERE action <> 'impression'
    ),
    marked AS (
      SELECT *, CASE WHEN time_ms - lag(time_ms) OVER w <= ${SESSION_GAP_MS} THEN 0 ELSE 1 END AS new_session
      FROM expanded WINDOW w AS (PARTITION BY user_id ORDER BY time_ms, line, step)
    )
    SELECT user_id, item_id, action, time_ms, NULL::VARCHAR AS board_id,
           user_id || '-s' || sum(new_session) OVER (PARTITION BY user_id ORDER BY time_ms, line, step ROWS UNBOUNDED PRECEDING) AS session_id,
           NULL::INTEGER AS position, NULL::VARCHAR AS source, line, step,
           strftime(DATE '1970-01-01' + CAST(time_ms // ${DAY_MS} AS INTEGER), '%Y-%m-%d') AS day
    FROM marked`);

  const eventCols = Object.keys(TABLE_COLUMNS.events).join(', ');
  await fs.mkdir(paths.events, { recursive: true });
  await conn.run(`
    COPY (SELECT ${eventCols}, day FROM ev ORDER BY time_ms, line, step)
    TO ${sqlString(paths.events)} (FORMAT PARQUET, PARTITION_BY (day), FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)`);

  await fs.mkdir(paths.catalog, { recursive: true });
  const copy = (sql: string, file: string) => conn.run(`COPY (${sql}) TO ${sqlString(file)} (FORMAT PARQUET)`);
  await copy(
    `SELECT user_id, NULL::VARCHAR AS locale, []::VARCHAR[] AS topics, min(time_ms) AS signup_ms FROM interactions GROUP BY user_id ORDER BY user_id`,
    paths.table('users'),
  );
  await copy(
    `SELECT item_id, NULL::VARCHAR AS creator_id, NULL::VARCHAR AS topic, NULL::VARCHAR AS locale, min(time_ms) AS created_ms
     FROM interactions GROUP BY item_id ORDER BY item_id`,
    paths.table('items'),
  );
  for (const table of ['creators', 'boards', 'board_items', 'follows'] as const)
    await copy(emptyTableSql(table), paths.table(table));

  const [stats] = await queryRows<{ users: number; items: number; events: number; first: number; last: number }>(
    conn,
    `SELECT (SELECT count(DISTINCT user_id) FROM interactions) AS users, (SELECT count(DISTINCT item_id) FROM interactions) AS items,
            (SELECT count(*) FROM ev) AS events, (SELECT min(time_ms) FROM ev) AS first, (SELECT max(time_ms) FROM ev) AS last`,
  );
  const firstDay = Math.floor(stats.first / DAY_MS);
  const manifest: WorldManifest = {
    name: worldName(options),
    source: 'import',
    startMs: firstDay * DAY_MS,
    days: Math.floor(stats.last / DAY_MS) - firstDay + 1,
    counts: { users: stats.users, items: stats.items, creators: 0, boards: 0, events: stats.events },
    features: { creators: false, boards: false, topics: false, locales: false },
    hasTruth: false,
    createdAt: new Date().toISOString(),
  };
  await writeWorldManifest(options.dir, manifest);
  return manifest;
}

// Compaction of the live event log: the JSON-lines files of a closed day become one Parquet file in
// that day's folder, where every reader of the event log already looks. Nothing is deleted that was
// not verified: the live files are removed only after the Parquet file is written, fsynced, renamed
// into place and re-read with the same row count, and after the live files are seen unchanged.
// Every step can be interrupted and the next run finishes or redoes it (live-files.ts says which
// copy a reader takes meanwhile).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { syncDir } from '../registry/fs-atomic.js';
import { newestEventMs, openDuck, queryRows, sqlString, type Duck } from './duck.js';
import { compactedParquet, compactingName, compactionIdOf, dayOfFile } from './live-files.js';
import { DAY_MS, readWorldManifest, worldPaths, writeWorldManifest } from './world.js';

export interface CompactionOptions {
  /** A day is closed once the log's newest event is this far past the day's end. */
  closedAfterMs: number;
  /** A live file is left alone until it was not written for this long. */
  idleForMs: number;
  /** After renaming a day's files: how long a writer that opened one just before may still finish its write. */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface CompactedDay {
  day: string;
  files: number;
  rows: number;
  parquet: string;
}

export interface CompactionResult {
  days: CompactedDay[];
  /** Groups left as they were, with why (unreadable lines, a file that changed): retried on the next run. */
  skipped: string[];
}

/** Compacts every closed, idle day of the live log; finishes compactions an earlier run left half done. */
export async function compactLiveLog(worldDir: string, options: CompactionOptions): Promise<CompactionResult> {
  const log = options.log ?? (() => {});
  const paths = worldPaths(worldDir);
  const result: CompactionResult = { days: [], skipped: [] };
  const duck = await openDuck();
  try {
    // 1. Groups an interrupted run left renamed: redo them (writing the Parquet again is harmless).
    const groups = new Map<string, string[]>();
    for (const file of await liveFiles(paths.live)) {
      const id = compactionIdOf(file);
      if (id) groups.set(`${dayOfFile(file)}/${id}`, [...(groups.get(`${dayOfFile(file)}/${id}`) ?? []), file]);
    }
    // 2. New groups: the idle files of each closed day, renamed so the writer starts a new file.
    const newest = await newestEventMs(duck.conn, worldDir);
    const now = Date.now();
    const byDay = new Map<string, string[]>();
    for (const file of await liveFiles(paths.live)) {
      if (compactionIdOf(file)) continue;
      const day = dayOfFile(file);
      if (Date.parse(`${day}T00:00:00Z`) + DAY_MS + options.closedAfterMs > newest) continue;
      if (now - (await fs.stat(file)).mtimeMs < options.idleForMs) continue;
      byDay.set(day, [...(byDay.get(day) ?? []), file]);
    }
    for (const [day, files] of byDay) {
      const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
      const renamed = files.map((f) => compactingName(f, id));
      for (let i = 0; i < files.length; i++) await fs.rename(files[i], renamed[i]);
      await syncDir(path.dirname(renamed[0]));
      groups.set(`${day}/${id}`, renamed);
    }
    if (byDay.size > 0) await new Promise((r) => setTimeout(r, options.settleMs ?? 2_000));
    for (const [key, files] of groups) {
      const [day, id] = key.split('/');
      const done = await compactGroup(duck, paths.events, day, id, files.sort());
      if (typeof done === 'string') {
        result.skipped.push(`${day}: ${done}`);
        log(`compaction of ${day} left as it was: ${done}`);
      } else {
        result.days.push(done);
        log(`compacted ${done.files} live file(s) of ${day}: ${done.rows} events → ${done.parquet}`);
      }
    }
  } finally {
    duck.close();
  }
  if (result.days.length > 0) await extendWorld(worldDir, result.days);
  return result;
}

/** One day's renamed live files into events/day=D/live-<id>.parquet; a string says why not. */
async function compactGroup(
  duck: Duck,
  eventsDir: string,
  day: string,
  id: string,
  files: string[],
): Promise<CompactedDay | string> {
  const sizes = await Promise.all(files.map(async (f) => (await fs.stat(f)).size));
  const lines = (await Promise.all(files.map(completeLines))).reduce((a, b) => a + b, 0);
  const parquet = compactedParquet(eventsDir, day, id);
  const written = await linesToParquet(duck, files, lines, parquet);
  if (typeof written === 'string') return written;
  const after = await Promise.all(files.map(async (f) => (await fs.stat(f)).size));
  if (after.some((size, i) => size !== sizes[i])) {
    await fs.rm(parquet, { force: true });
    await syncDir(path.dirname(parquet));
    return 'a live file changed meanwhile';
  }
  for (const f of files) await fs.rm(f);
  await syncDir(path.dirname(files[0]));
  return { day, files: files.length, rows: written, parquet };
}

/**
 * Writes the events of these JSON-lines files (the live log's lines, with seq) into `parquet`: to a
 * temporary file, fsynced, checked, renamed into place and re-read there. Resolves with the row
 * count, or a string saying why not (nothing is left at `parquet` then).
 */
export async function linesToParquet(
  duck: Duck,
  files: string[],
  lines: number,
  parquet: string,
): Promise<number | string> {
  const list = `[${files.map(sqlString).join(', ')}]`;
  const source = `read_json(${list}, format = 'newline_delimited', ignore_errors = true,
      columns = {user_id: 'VARCHAR', item_id: 'VARCHAR', action: 'VARCHAR', time_ms: 'BIGINT', board_id: 'VARCHAR',
                 source: 'VARCHAR', request_id: 'VARCHAR', log_key: 'VARCHAR', seq: 'BIGINT'})`;
  const [{ n: readable }] = await queryRows<{ n: number }>(
    duck.conn,
    `SELECT count(*) AS n FROM ${source} WHERE user_id IS NOT NULL AND item_id IS NOT NULL AND time_ms IS NOT NULL AND seq IS NOT NULL`,
  );
  // A line DuckDB could not read would be lost with its source: keep the sources and say so.
  if (readable !== lines) return `${readable} of ${lines} lines readable`;
  const tmp = path.join(path.dirname(parquet), `.${path.basename(parquet)}.tmp`);
  await fs.mkdir(path.dirname(parquet), { recursive: true });
  // The columns of the Parquet days (the live view's mapping, duck.ts), plus the log's seq and key.
  await duck.conn.run(`COPY (
      SELECT user_id, item_id, action, time_ms, NULLIF(board_id, '') AS board_id, NULLIF(request_id, '') AS session_id,
        NULL::INTEGER AS position, NULLIF(source, '') AS source, seq, NULLIF(log_key, '') AS log_key
      FROM ${source} WHERE user_id IS NOT NULL AND item_id IS NOT NULL AND time_ms IS NOT NULL AND seq IS NOT NULL
      ORDER BY seq
    ) TO ${sqlString(tmp)} (FORMAT PARQUET)`);
  const handle = await fs.open(tmp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  if ((await parquetRows(duck, tmp)) !== lines) {
    await fs.rm(tmp, { force: true });
    return `the written Parquet file does not hold the ${lines} events`;
  }
  await fs.rename(tmp, parquet);
  await syncDir(path.dirname(parquet));
  // Re-read where readers find it; only then may the sources go.
  const rows = await parquetRows(duck, parquet);
  if (rows !== lines) {
    await fs.rm(parquet, { force: true });
    await syncDir(path.dirname(parquet));
    return `the Parquet file re-read holds ${rows} of ${lines} events`;
  }
  return rows;
}

/** The compacted days become part of the world: its days reach the newest of them, its count grows. */
export async function extendWorld(worldDir: string, days: CompactedDay[]): Promise<void> {
  const manifest = await readWorldManifest(worldDir);
  const lastDay = Math.max(...days.map((d) => Date.parse(`${d.day}T00:00:00Z`)));
  const days_ = Math.max(manifest.days, Math.floor((lastDay - manifest.startMs) / DAY_MS) + 1);
  const events = manifest.counts.events + days.reduce((sum, d) => sum + d.rows, 0);
  await writeWorldManifest(worldDir, { ...manifest, days: days_, counts: { ...manifest.counts, events } });
}

async function parquetRows(duck: Duck, file: string): Promise<number> {
  const [{ n }] = await queryRows<{ n: number }>(
    duck.conn,
    `SELECT count(*) AS n FROM read_parquet(${sqlString(file)})`,
  );
  return n;
}

/** Newline-terminated, non-empty lines (an unfinished last line was never acknowledged). */
async function completeLines(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l !== '').length;
}

/** Every .jsonl file under live/day=*. */
async function liveFiles(liveDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of (await fs.readdir(liveDir).catch(() => [] as string[])).filter((n) => n.startsWith('day='))) {
    for (const f of await fs.readdir(path.join(liveDir, d)))
      if (f.endsWith('.jsonl')) out.push(path.join(liveDir, d, f));
  }
  return out.sort();
}

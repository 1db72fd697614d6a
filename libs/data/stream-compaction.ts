// Compaction of the JetStream event stream (services.events.backend "jetstream"): the messages of
// each closed day become one Parquet file in that day's folder (events/day=D/stream-<id>.parquet),
// where every reader of the event log looks. Nothing is purged from the stream that was not
// verified there: the file is written, fsynced, renamed into place and re-read with the same row
// count first, and the purge takes only that day's subjects up to the last message read. A run
// that dies between the two steps is finished by the next: messages at or below a day's newest
// compacted seq are in Parquet already (the events service skips them at start-up too).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { JetStreamSettings } from '../config/mesh.js';
import { newestEventMs, openDuck, queryRows, sqlString, type Duck } from './duck.js';
import { connectToBroker, readStream } from './event-broker.js';
import { daySubjects, dayOfSubject, STREAM_PARQUET_PREFIX } from './event-stream.js';
import { extendWorld, linesToParquet, type CompactedDay, type CompactionResult } from './live-compaction.js';
import { DAY_MS, worldPaths } from './world.js';

export interface StreamCompactionOptions {
  /** A day is closed once the newest event (stream or files) is this far past the day's end. */
  closedAfterMs: number;
  log?: (line: string) => void;
}

/** What the stream holds of one day, as read. */
interface StreamDay {
  /** Messages not in Parquet yet, as live-log lines with their stream seq. */
  lines: string[];
  /** Messages already in Parquet (an earlier run stopped before its purge). */
  compacted: number;
  unreadable: number;
  /** The newest seq of the day read: the purge stops after it. */
  lastSeq: number;
}

/** Compacts every closed day of the stream into Parquet, then purges it from the stream. */
export async function compactStream(
  worldDir: string,
  settings: JetStreamSettings,
  options: StreamCompactionOptions,
): Promise<CompactionResult> {
  const log = options.log ?? (() => {});
  const result: CompactionResult = { days: [], skipped: [] };
  const broker = await connectToBroker(settings, 'feedloom-compaction');
  const duck = await openDuck();
  const scratch = await fs.mkdtemp(path.join(tmpdir(), 'stream-compaction-'));
  try {
    const through = await streamCompactedThrough(duck.conn, worldDir);
    let newest = await newestEventMs(duck.conn, worldDir);
    const days = new Map<string, StreamDay>();
    await readStream(broker, settings.stream, (m) => {
      const day = dayOfSubject(m.subject);
      let d = days.get(day);
      if (!d) days.set(day, (d = { lines: [], compacted: 0, unreadable: 0, lastSeq: 0 }));
      d.lastSeq = Math.max(d.lastSeq, m.seq);
      if (m.seq <= (through.get(day) ?? 0)) {
        d.compacted++;
        return;
      }
      try {
        const record = JSON.parse(m.string()) as { time_ms?: number };
        newest = Math.max(newest, record.time_ms ?? 0);
        d.lines.push(JSON.stringify({ ...record, seq: m.seq }));
      } catch {
        d.unreadable++;
      }
    });
    for (const [day, d] of [...days].sort()) {
      if (Date.parse(`${day}T00:00:00Z`) + DAY_MS + options.closedAfterMs > newest) continue;
      const done = await compactDay(duck, worldPaths(worldDir).events, scratch, day, d);
      if (typeof done === 'string') {
        result.skipped.push(`${day}: ${done}`);
        log(`compaction of the stream's ${day} left as it was: ${done}`);
        continue;
      }
      const purged = await broker.jsm.streams
        .purge(settings.stream, {
          filter: daySubjects(settings.subjectPrefix, day),
          seq: d.lastSeq + 1, // up to and including lastSeq: what was read, and is in Parquet
        })
        .catch((err: Error) => err);
      if (purged instanceof Error) {
        // In Parquet and still in the stream: readers skip the stream's copies; the next run purges them.
        result.skipped.push(`${day}: in Parquet, not purged from the stream yet (${purged.message})`);
        log(`compaction of the stream's ${day}: written to Parquet, purge refused: ${purged.message}`);
        if (done.rows > 0) result.days.push(done);
        continue;
      }
      log(
        `compacted the stream's ${day}: ${done.rows} events → ${done.parquet || '(already in Parquet)'}; purged ${purged.purged} messages`,
      );
      if (done.rows > 0) result.days.push(done);
    }
  } finally {
    duck.close();
    await broker.nc.close().catch(() => undefined);
    await fs.rm(scratch, { recursive: true, force: true });
  }
  if (result.days.length > 0) await extendWorld(worldDir, result.days);
  return result;
}

/** One day's new messages into events/day=D/stream-<id>.parquet; a string says why not. */
async function compactDay(
  duck: Duck,
  eventsDir: string,
  scratch: string,
  day: string,
  d: StreamDay,
): Promise<CompactedDay | string> {
  // A message that cannot be read would be purged with the rest: keep the day and say so.
  if (d.unreadable > 0) return `${d.unreadable} message(s) are not JSON`;
  if (d.lines.length === 0) return { day, files: 0, rows: 0, parquet: '' };
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const lines = path.join(scratch, `${day}-${id}.jsonl`);
  await fs.writeFile(lines, d.lines.join('\n') + '\n');
  const parquet = path.join(eventsDir, `day=${day}`, `${STREAM_PARQUET_PREFIX}${id}.parquet`);
  const rows = await linesToParquet(duck, [lines], d.lines.length, parquet);
  await fs.rm(lines, { force: true });
  return typeof rows === 'string' ? rows : { day, files: 0, rows, parquet };
}

/**
 * Per day, the newest stream seq in the Parquet files compacted from the stream: the stream's
 * messages of that day up to it are history already (compaction may not have purged them yet).
 */
export async function streamCompactedThrough(conn: DuckDBConnection, worldDir: string): Promise<Map<string, number>> {
  const glob = sqlString(path.join(worldPaths(worldDir).events, 'day=*', `${STREAM_PARQUET_PREFIX}*.parquet`));
  const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM glob(${glob})`);
  if (n === 0) return new Map();
  const rows = await queryRows<{ day: string; seq: number }>(
    conn,
    `SELECT regexp_extract(filename, 'day=([^/]+)/[^/]+$', 1) AS day, max(seq)::DOUBLE AS seq
     FROM read_parquet(${glob}, filename = true) GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.day, r.seq]));
}

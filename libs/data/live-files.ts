// How a live log file and the Parquet file compacted from it are named, and which one a reader
// takes while both exist. Compaction (live-compaction.ts) renames the live files of a day to
// `<name>.compacting-<id>.jsonl`, writes `events/day=D/live-<id>.parquet`, and deletes the live
// files only after the Parquet is verified: between the two steps every reader takes the Parquet
// and skips the live files it shadows, so no event is counted twice or lost.
import { existsSync } from 'node:fs';
import path from 'node:path';

const COMPACTING = /\.compacting-([a-z0-9]+)\.jsonl$/;

/** The name a live file takes while compaction `id` turns it into Parquet. */
export function compactingName(liveFile: string, id: string): string {
  return liveFile.replace(/\.jsonl$/, `.compacting-${id}.jsonl`);
}

/** The compaction a live file is part of, if any. */
export function compactionIdOf(liveFile: string): string | undefined {
  return COMPACTING.exec(liveFile)?.[1];
}

/** The Parquet file compaction `id` writes for a day (eventsDir/day=D/live-<id>.parquet). */
export function compactedParquet(eventsDir: string, day: string, id: string): string {
  return path.join(eventsDir, `day=${day}`, `live-${id}.parquet`);
}

/** The day of a file under a `day=YYYY-MM-DD` folder. */
export function dayOfFile(file: string): string {
  return path.basename(path.dirname(file)).slice('day='.length);
}

/** True when the live file's events are already in a compacted Parquet file (readers skip it). */
export function isShadowed(liveFile: string, eventsDir: string): boolean {
  const id = compactionIdOf(liveFile);
  return id !== undefined && existsSync(compactedParquet(eventsDir, dayOfFile(liveFile), id));
}

/**
 * A SQL condition on read_json's `filename` column that drops shadowed live files. It lists the
 * compacted Parquet files at query time, so a view keeps reading right while compaction runs.
 */
export function notShadowedSql(eventsDir: string): string {
  const parquets = path.join(eventsDir, 'day=*', 'live-*.parquet').replaceAll("'", "''");
  const key = (column: string, name: string) =>
    `regexp_extract(${column}, 'day=([^/]+)/[^/]+$', 1) || '/' || regexp_extract(${column}, '${name}$', 1)`;
  return `(NOT regexp_matches(filename, '\\.compacting-[a-z0-9]+\\.jsonl$')
    OR ${key('filename', '\\.compacting-([a-z0-9]+)\\.jsonl')} NOT IN (
      SELECT ${key('file', 'live-([a-z0-9]+)\\.parquet')} FROM glob('${parquets}')))`;
}

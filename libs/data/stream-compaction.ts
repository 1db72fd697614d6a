// Compaction of the JetStream event stream (services.events.backend "jetstream"): the closed days'
// messages become Parquet files in the days' folders, where every reader of the event log looks.
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, sqlString } from './duck.js';
import { STREAM_PARQUET_PREFIX } from './event-stream.js';
import { worldPaths } from './world.js';

/**
 * Per day, the newest stream seq in the Parquet files compacted from the JetStream stream: stream
 * events of that day up to it are history already (compaction may not have purged them yet).
 */
export async function streamCompactedThrough(conn: DuckDBConnection, worldDir: string): Promise<Map<string, number>> {
  const glob = sqlString(path.join(worldPaths(worldDir).events, 'day=*', `${STREAM_PARQUET_PREFIX}*.parquet`));
  const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM glob(${glob})`);
  if (n === 0) return new Map();
  const rows = await queryRows<{ day: string; seq: number }>(
    conn,
    `SELECT regexp_extract(filename, 'day=([^/]+)/[^/]+$', 1) AS day, max(seq)::DOUBLE AS seq
     FROM read_parquet(${glob}, filename = true) GROUP BY day`,
  );
  return new Map(rows.map((r) => [r.day, r.seq]));
}

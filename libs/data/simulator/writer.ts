// Writes the simulated world to Parquet through DuckDB: numbers go in through an appender, ids
// and names are made in SQL, and each file is written under a temp name and renamed into place.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { appendColumns, sqlString, type AppendColumn } from '../duck.js';
import { ACTIONS, LOCALES, worldPaths } from '../world.js';
import type { EventBuffer } from './event-buffer.js';
import { SOURCES } from './incumbent.js';
import { SimState } from './state.js';

const LOCALE_SQL = `[${LOCALES.map((l) => sqlString(l)).join(', ')}]`;
const ACTION_SQL = `[${ACTIONS.map((a) => sqlString(a)).join(', ')}]`;
const SOURCE_SQL = `[${SOURCES.map((s) => sqlString(s)).join(', ')}]`;
const topicSql = (col: string) => `'t' || lpad(${col}::VARCHAR, 2, '0')`;

/** Stages columns in DuckDB and writes `SELECT <select> FROM staging` to a Parquet file. */
async function writeParquet(
  conn: DuckDBConnection,
  file: string,
  columns: AppendColumn[],
  rowCount: number,
  select: string,
): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await appendColumns(conn, 'staging', columns, rowCount);
  const tmp = `${file}.tmp-${process.pid}`;
  await conn.run(`COPY (SELECT ${select}) TO ${sqlString(tmp)} (FORMAT PARQUET)`);
  await conn.run('DROP TABLE staging');
  await fs.rename(tmp, file);
}

const seq = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** One day of events, ordered by time (ties keep the order they happened in). */
export async function writeDayEvents(
  conn: DuckDBConnection,
  file: string,
  day: number,
  ev: EventBuffer,
): Promise<void> {
  const n = ev.length;
  await writeParquet(
    conn,
    file,
    [
      { name: 'n', type: 'INTEGER', values: seq(n) },
      { name: 'u', type: 'INTEGER', values: ev.user.subarray(0, n) },
      { name: 'i', type: 'INTEGER', values: ev.item.subarray(0, n) },
      { name: 'a', type: 'INTEGER', values: ev.action.subarray(0, n) },
      { name: 't', type: 'DOUBLE', values: ev.timeMs.subarray(0, n) },
      { name: 'b', type: 'INTEGER', values: ev.board.subarray(0, n) },
      { name: 'k', type: 'INTEGER', values: ev.session.subarray(0, n) },
      { name: 'p', type: 'INTEGER', values: ev.position.subarray(0, n) },
      { name: 's', type: 'INTEGER', values: ev.source.subarray(0, n) },
    ],
    n,
    `'u' || u AS user_id, 'i' || i AS item_id, ${ACTION_SQL}[a + 1] AS action, t::BIGINT AS time_ms,
     CASE WHEN b >= 0 THEN 'b' || b END AS board_id, 's' || u || '-' || ${day} || '-' || k AS session_id,
     p AS position, ${SOURCE_SQL}[s + 1] AS source
     FROM staging ORDER BY t, n`,
  );
}

export async function writeCatalog(conn: DuckDBConnection, dir: string, s: SimState): Promise<void> {
  const p = worldPaths(dir);
  const U = s.userCount;
  await writeParquet(
    conn,
    p.table('users'),
    [
      { name: 'u', type: 'INTEGER', values: seq(U) },
      { name: 'l', type: 'INTEGER', values: s.userLocale.subarray(0, U) },
      { name: 'topics', type: 'VARCHAR', values: s.userDeclared.map((d) => d.join(';')) },
      { name: 'signup', type: 'DOUBLE', values: s.userSignupMs.subarray(0, U) },
    ],
    U,
    `'u' || u AS user_id, ${LOCALE_SQL}[l + 1] AS locale,
     CASE WHEN topics = '' THEN []::VARCHAR[] ELSE list_transform(string_split(topics, ';'), lambda x: ${topicSql('x')}) END AS topics,
     signup::BIGINT AS signup_ms
     FROM staging ORDER BY u`,
  );

  const I = s.itemCount;
  await writeParquet(
    conn,
    p.table('items'),
    [
      { name: 'i', type: 'INTEGER', values: seq(I) },
      { name: 'c', type: 'INTEGER', values: s.itemCreator.subarray(0, I) },
      { name: 'topic', type: 'INTEGER', values: s.itemTopic.subarray(0, I) },
      { name: 'l', type: 'INTEGER', values: s.itemLocale.subarray(0, I) },
      { name: 'created', type: 'DOUBLE', values: s.itemCreatedMs.subarray(0, I) },
    ],
    I,
    `'i' || i AS item_id, 'c' || c AS creator_id, ${topicSql('topic')} AS topic, ${LOCALE_SQL}[l + 1] AS locale,
     created::BIGINT AS created_ms FROM staging ORDER BY i`,
  );

  const C = s.creatorCount;
  await writeParquet(
    conn,
    p.table('creators'),
    [
      { name: 'c', type: 'INTEGER', values: seq(C) },
      { name: 'topic', type: 'INTEGER', values: s.creatorTopic },
      { name: 'l', type: 'INTEGER', values: s.creatorLocale },
      { name: 'u', type: 'INTEGER', values: s.creatorUser },
    ],
    C,
    `'c' || c AS creator_id, ${topicSql('topic')} AS topic, ${LOCALE_SQL}[l + 1] AS locale,
     CASE WHEN u >= 0 THEN 'u' || u END AS user_id FROM staging ORDER BY c`,
  );

  const B = s.boardOwner.length;
  await writeParquet(
    conn,
    p.table('boards'),
    [
      { name: 'b', type: 'INTEGER', values: seq(B) },
      { name: 'owner', type: 'INTEGER', values: s.boardOwner },
      { name: 'topic', type: 'INTEGER', values: s.boardTopic },
    ],
    B,
    `'b' || b AS board_id, 'u' || owner AS owner_user_id, ${topicSql('topic')} AS topic FROM staging ORDER BY b`,
  );

  const bi = s.boardItemRows;
  await writeParquet(
    conn,
    p.table('board_items'),
    [
      { name: 'n', type: 'INTEGER', values: seq(bi.board.length) },
      { name: 'b', type: 'INTEGER', values: bi.board },
      { name: 'i', type: 'INTEGER', values: bi.item },
      { name: 't', type: 'DOUBLE', values: bi.addedMs },
    ],
    bi.board.length,
    `'b' || b AS board_id, 'i' || i AS item_id, t::BIGINT AS added_ms FROM staging ORDER BY t, n`,
  );

  const f = s.follows;
  await writeParquet(
    conn,
    p.table('follows'),
    [
      { name: 'n', type: 'INTEGER', values: seq(f.user.length) },
      { name: 'u', type: 'INTEGER', values: f.user },
      { name: 'kind', type: 'INTEGER', values: f.type },
      { name: 'target', type: 'INTEGER', values: f.target },
      { name: 't', type: 'DOUBLE', values: f.timeMs },
    ],
    f.user.length,
    `'u' || u AS user_id, CASE kind WHEN ${SimState.FOLLOW_CREATOR} THEN 'creator' ELSE 'board' END AS target_type,
     CASE kind WHEN ${SimState.FOLLOW_CREATOR} THEN 'c' ELSE 'b' END || target AS target_id, t::BIGINT AS time_ms
     FROM staging ORDER BY t, n`,
  );
}

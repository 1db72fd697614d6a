import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { eventsView, openDuck, queryRows, sqlString } from '../../libs/data/duck.js';
import { DAY_MS, readWorldManifest, worldPaths } from '../../libs/data/world.js';
import { streamCompactedThrough } from '../../libs/data/stream-compaction.js';
import { UserStore } from './user-state.js';

/**
 * Builds the user state from the world on disk: the catalog (profiles, follows, boards, item
 * topics) and the closed Parquet event partitions. The live log is replayed on top by the caller.
 * Ids are numbered inside DuckDB and events come back as integer columns in time order: reading
 * millions of rows as strings would take many times longer.
 */

export interface WorldHistory {
  store: UserStore;
  /** Where the world's data ends: startMs + days. */
  worldEndMs: number;
  historyEvents: number;
  /** The last live-log sequence number among the events compacted into Parquet days (0: none). */
  compactedSeq: number;
  /** Per day, the last stream sequence number compacted into that day's Parquet (JetStream backend). */
  streamCompactedThrough: Map<string, number>;
}

export interface HistoryOptions {
  /** Load the world as it was at this time: events, signups, items and follows from later are left out. */
  asOfMs?: number;
  /** Keep only these users' state (an events replica owning some partitions); absent: every user. */
  ownsUser?: (userId: string) => boolean;
}

export async function loadWorldHistory(worldDir: string, options: HistoryOptions = {}): Promise<WorldHistory> {
  const manifest = await readWorldManifest(worldDir);
  const worldEndMs = manifest.startMs + manifest.days * DAY_MS;
  const duck = await openDuck();
  try {
    // Catalog views only: the view "events" also holds the live log, which the caller replays.
    await eventsView(duck.conn, worldDir, { beforeMs: options.asOfMs });
    const before = options.asOfMs === undefined ? '' : ` WHERE time_ms < ${Math.floor(options.asOfMs)}`;
    await duck.conn.run(`CREATE VIEW history AS SELECT * FROM (${historySql(worldDir)})${before}`);
    const store = new UserStore();
    await numberIds(duck.conn, store);
    const owns = options.ownsUser;
    await loadProfiles(duck.conn, store, owns ?? (() => true));
    const historyEvents = await loadHistoryEvents(duck.conn, store, owns && ownedIds(store, owns));
    return {
      store,
      worldEndMs,
      historyEvents,
      compactedSeq: await lastCompactedSeq(duck.conn, worldDir),
      streamCompactedThrough: await streamCompactedThrough(duck.conn, worldDir),
    };
  } finally {
    duck.close();
  }
}

/** The closed Parquet partitions (an empty table when there are none). */
function historySql(worldDir: string): string {
  const dir = worldPaths(worldDir).events;
  const hasParquet =
    existsSync(dir) &&
    readdirSync(dir).some((d) => d.startsWith('day=') && readdirSync(join(dir, d)).some((f) => f.endsWith('.parquet')));
  if (!hasParquet)
    return `SELECT NULL::VARCHAR AS user_id, NULL::VARCHAR AS item_id, NULL::VARCHAR AS action, NULL::BIGINT AS time_ms, NULL::VARCHAR AS board_id WHERE false`;
  const files = sqlString(join(dir, 'day=*', '*.parquet'));
  return `SELECT user_id, item_id, action, time_ms, board_id FROM read_parquet(${files}, hive_partitioning = false, union_by_name = true)`;
}

/** The newest seq in the Parquet files compacted from the live log (live-compaction.ts). */
async function lastCompactedSeq(conn: DuckDBConnection, worldDir: string): Promise<number> {
  const glob = sqlString(join(worldPaths(worldDir).events, 'day=*', 'live-*.parquet'));
  const [{ n }] = await queryRows<{ n: number }>(conn, `SELECT count(*) AS n FROM glob(${glob})`);
  if (n === 0) return 0;
  const [{ seq }] = await queryRows<{ seq: number | null }>(conn, `SELECT max(seq) AS seq FROM read_parquet(${glob})`);
  return seq ?? 0;
}

/** Numbers every id in DuckDB (table ids) and in the store's table alike. */
async function numberIds(conn: DuckDBConnection, store: UserStore): Promise<void> {
  await conn.run(`CREATE TABLE ids AS
    SELECT id, (row_number() OVER () - 1)::INTEGER AS idx FROM (
      SELECT user_id AS id FROM users UNION SELECT item_id FROM items UNION SELECT board_id FROM boards
      UNION SELECT user_id FROM history UNION SELECT item_id FROM history UNION SELECT board_id FROM history
    ) WHERE id IS NOT NULL`);
  await forEachRow(conn, 'SELECT id, idx FROM ids ORDER BY idx', ([id, idx]) => {
    if (store.ids.intern(id as string) !== idx) throw new Error('id numbering out of step with DuckDB');
  });
  await forEachRow(
    conn,
    'SELECT ids.idx, items.topic FROM items JOIN ids ON ids.id = items.item_id WHERE items.topic IS NOT NULL',
    ([idx, topic]) => {
      store.setItemTopic(idx as number, topic as string);
    },
  );
}

/** Which numbered ids are users this service keeps (1) or not (0). */
function ownedIds(store: UserStore, owns: (userId: string) => boolean): Uint8Array {
  const owned = new Uint8Array(store.ids.size);
  for (let i = 0; i < owned.length; i++) owned[i] = owns(store.ids.name(i)) ? 1 : 0;
  return owned;
}

async function loadProfiles(
  conn: DuckDBConnection,
  store: UserStore,
  owns: (userId: string) => boolean,
): Promise<void> {
  const users = await queryRows<{ user_id: string; locale: string | null; topics: string[] | null }>(
    conn,
    'SELECT user_id, locale, topics FROM users',
  );
  for (const u of users.filter((u) => owns(u.user_id))) {
    const profile = store.profile(u.user_id);
    profile.locale = store.label(u.locale ?? '');
    profile.topics = (u.topics ?? []).map((t) => store.label(t));
  }
  // Newest follows first.
  await forEachRow(
    conn,
    'SELECT user_id, target_type, target_id FROM follows ORDER BY time_ms DESC, target_id',
    ([user, type, target]) => {
      if (!owns(user as string)) return;
      const profile = store.profile(user as string);
      if (type === 'creator') profile.followedCreators.push(store.label(target as string));
      else if (type === 'board') profile.followedBoards.push(store.label(target as string));
    },
  );
  await forEachRow(
    conn,
    'SELECT owner_user_id, board_id FROM boards WHERE owner_user_id IS NOT NULL ORDER BY board_id',
    ([user, board]) => {
      if (owns(user as string)) store.profile(user as string).ownBoards.push(store.label(board as string));
    },
  );
}

/** Every history event into the bounded state, oldest first, so each ring keeps the newest. */
async function loadHistoryEvents(
  conn: DuckDBConnection,
  store: UserStore,
  owned: Uint8Array | undefined,
): Promise<number> {
  const result = await conn.stream(`
    SELECT u.idx AS user, i.idx AS item, CASE h.action
        WHEN 'impression' THEN ${ActionType.ACTION_TYPE_IMPRESSION} WHEN 'click' THEN ${ActionType.ACTION_TYPE_CLICK}
        WHEN 'save' THEN ${ActionType.ACTION_TYPE_SAVE} ELSE ${ActionType.ACTION_TYPE_HIDE} END::INTEGER AS type,
      h.time_ms::DOUBLE AS time_ms, coalesce(b.idx, -1) AS board
    FROM history h JOIN ids u ON u.id = h.user_id JOIN ids i ON i.id = h.item_id LEFT JOIN ids b ON b.id = h.board_id
    WHERE h.action IN ('impression', 'click', 'save', 'hide') AND h.time_ms IS NOT NULL
    ORDER BY h.time_ms`);
  let count = 0;
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    // Typed vectors: no per-value conversion.
    const [user, item, type, time, board] = [0, 1, 2, 3, 4].map((c) => chunk.getColumnVector(c)) as {
      getItem(i: number): number;
    }[];
    const rows = chunk.rowCount; // a native call: read it once
    for (let r = 0; r < rows; r++) {
      const u = user.getItem(r);
      if (owned && !owned[u]) continue;
      store.applyNumbered(u, item.getItem(r), type.getItem(r), time.getItem(r), board.getItem(r));
      count++;
    }
  }
  return count;
}

/** Streams a query's rows chunk by chunk, so a large result is never held whole. */
async function forEachRow(conn: DuckDBConnection, sql: string, onRow: (row: DuckDBValue[]) => void): Promise<void> {
  const result = await conn.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const columns = chunk.getColumns();
    const row: DuckDBValue[] = new Array(columns.length);
    for (let r = 0; r < columns[0].length; r++) {
      for (let c = 0; c < columns.length; c++) row[c] = columns[c][r];
      onRow(row);
    }
  }
}

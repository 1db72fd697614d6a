import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { eventsView, openDuck, queryRows, sqlString } from '../../libs/data/duck.js';
import { DAY_MS, readWorldManifest, worldPaths } from '../../libs/data/world.js';
import { isActionName } from './action-names.js';
import { MAX_RECENT_ACTIONS, MAX_SEEN_ITEMS, UserStore } from './user-state.js';

/**
 * Builds the user state from the world on disk: the catalog (profiles, follows, boards, item
 * topics) and the closed Parquet event partitions, of which only what the bounded state keeps is
 * read (each user's newest actions and recently shown items). The live log is replayed on top
 * by the caller.
 */

export interface WorldHistory {
  store: UserStore;
  /** Where the world's data ends: startMs + days. */
  worldEndMs: number;
  historyEvents: number;
}

export async function loadWorldHistory(worldDir: string): Promise<WorldHistory> {
  const manifest = await readWorldManifest(worldDir);
  const worldEndMs = manifest.startMs + manifest.days * DAY_MS;
  const duck = await openDuck();
  try {
    // Catalog views only: the view "events" also holds the live log, which the caller replays.
    await eventsView(duck.conn, worldDir);
    const topicOfItem = await loadItemTopics(duck.conn);
    const store = new UserStore((itemId) => topicOfItem.get(itemId));
    await loadProfiles(duck.conn, store);
    const historyEvents = await loadHistoryEvents(duck.conn, worldDir, store);
    return { store, worldEndMs, historyEvents };
  } finally {
    duck.close();
  }
}

async function loadItemTopics(conn: DuckDBConnection): Promise<Map<string, string>> {
  const topics = new Map<string, string>();
  await forEachRow(conn, 'SELECT item_id, topic FROM items WHERE topic IS NOT NULL', ([item, topic]) => {
    topics.set(item as string, topic as string);
  });
  return topics;
}

async function loadProfiles(conn: DuckDBConnection, store: UserStore): Promise<void> {
  const users = await queryRows<{ user_id: string; locale: string | null; topics: string[] | null }>(
    conn,
    'SELECT user_id, locale, topics FROM users',
  );
  for (const u of users) {
    const profile = store.profile(u.user_id);
    profile.locale = u.locale ?? '';
    profile.topics = u.topics ?? [];
  }
  await forEachRow(conn, 'SELECT user_id, target_type, target_id FROM follows ORDER BY time_ms DESC', ([user, type, target]) => {
    const profile = store.profile(user as string);
    if (type === 'creator') profile.followedCreators.push(target as string);
    else if (type === 'board') profile.followedBoards.push(target as string);
  });
  await forEachRow(conn, 'SELECT owner_user_id, board_id FROM boards WHERE owner_user_id IS NOT NULL ORDER BY board_id', ([user, board]) => {
    store.profile(user as string).ownBoards.push(board as string);
  });
}

/** Each user's newest engagement actions and most recently shown items, oldest first. */
async function loadHistoryEvents(conn: DuckDBConnection, worldDir: string, store: UserStore): Promise<number> {
  const eventsDir = worldPaths(worldDir).events;
  const hasParquet =
    existsSync(eventsDir) &&
    readdirSync(eventsDir).some((d) => d.startsWith('day=') && readdirSync(join(eventsDir, d)).some((f) => f.endsWith('.parquet')));
  if (!hasParquet) return 0;
  const history = `read_parquet(${sqlString(join(eventsDir, 'day=*', '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;
  const sql = `
    WITH engaged AS (
      SELECT user_id, item_id, action, time_ms, coalesce(board_id, '') AS board_id
      FROM ${history}
      WHERE action IN ('click', 'save', 'hide')
      QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY time_ms DESC) <= ${MAX_RECENT_ACTIONS}
    ), shown AS (
      SELECT user_id, item_id, 'impression' AS action, max(time_ms) AS time_ms, '' AS board_id
      FROM ${history}
      WHERE action = 'impression'
      GROUP BY user_id, item_id
      QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY max(time_ms) DESC) <= ${MAX_SEEN_ITEMS}
    )
    SELECT * FROM (SELECT * FROM engaged UNION ALL SELECT * FROM shown) ORDER BY time_ms`;
  let count = 0;
  await forEachRow(conn, sql, ([userId, itemId, action, timeMs, boardId]) => {
    if (!isActionName(action)) return;
    store.apply({ userId: userId as string, itemId: itemId as string, action, timeMs: Number(timeMs), boardId: boardId as string });
    count++;
  });
  return count;
}

/** Streams a query's rows chunk by chunk, so a large result is never held whole. */
async function forEachRow(conn: DuckDBConnection, sql: string, onRow: (row: DuckDBValue[]) => void): Promise<void> {
  const result = await conn.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const columns = chunk.getColumns();
    const row: DuckDBValue[] = new Array(columns.length);
    for (let r = 0; r < chunk.rowCount; r++) {
      for (let c = 0; c < columns.length; c++) row[c] = columns[c][r];
      onRow(row);
    }
  }
}

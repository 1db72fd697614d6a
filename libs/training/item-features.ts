// The catalog as the item tower sees it: one ItemFeatureRow per item, as of a given time. The
// dataset builder (training) and the indexer (serving) both read items through this module, so the
// item tower gets the same features in both places.
import type { DuckDBConnection } from '@duckdb/node-api';
import { ENGAGEMENT_WEIGHT_SQL } from '../data/batch/job.js';
import { eventsView, openDuck, queryRows } from '../data/duck.js';
import { DAY_MS } from '../data/world.js';
import type { ItemFeatureRow } from '../features/two-tower.js';

/** Half-life of the popularity feature (the same decay as the `popularity` batch job). */
export const POPULARITY_HALF_LIFE_DAYS = 3;

/**
 * At most this many boards per item in ItemFeatureRow.boards (its newest); a version's item tower
 * reads the first inputs.boardLen of them.
 */
export const MAX_ITEM_BOARDS = 32;

/** SQL: decayed engagement (save 3, click 1) of events before asOfMs, as seen at asOfMs. */
export function popularitySql(asOfMs: number): string {
  // Rounded: DuckDB sums in parallel, in no fixed order, and the last bits must not vary between runs.
  return `SELECT item_id, round(SUM(${ENGAGEMENT_WEIGHT_SQL} * pow(0.5, (${asOfMs} - time_ms) / ${POPULARITY_HALF_LIFE_DAYS * DAY_MS}.0)), 9) AS popularity
    FROM events WHERE action IN ('click', 'save') AND time_ms < ${asOfMs} GROUP BY item_id`;
}

/**
 * SQL for the catalog's feature rows as of asOfMs, over the views of eventsView (which should be cut
 * at or after asOfMs): every item created before asOfMs; its primary board is the first board it
 * was saved to (earliest board_items.added_ms, then board id); `boards` is every board it is on
 * before asOfMs, as the pixie graph has them (board_items plus saves logged with a board), newest
 * addition first, at most MAX_ITEM_BOARDS; popularity is popularitySql. Ordered by item id.
 */
export function itemFeatureSql(asOfMs: number): string {
  const t = Math.floor(asOfMs);
  return `
    WITH primary_board AS (
      SELECT item_id, arg_min(board_id, (added_ms, board_id)) AS board_id
      FROM board_items WHERE added_ms < ${t} GROUP BY item_id
    ),
    pins AS (
      SELECT item_id, board_id, min(added_ms) AS added_ms FROM (
        SELECT board_id, item_id, added_ms FROM board_items WHERE added_ms < ${t}
        UNION ALL
        SELECT board_id, item_id, time_ms FROM events WHERE action = 'save' AND board_id IS NOT NULL AND time_ms < ${t}
      ) WHERE board_id IS NOT NULL AND item_id IS NOT NULL
      GROUP BY item_id, board_id
      QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY min(added_ms) DESC, board_id) <= ${MAX_ITEM_BOARDS}
    ),
    all_boards AS (
      SELECT item_id, list(board_id ORDER BY added_ms DESC, board_id) AS boards FROM pins GROUP BY item_id
    ),
    pop AS (${popularitySql(t)})
    SELECT i.item_id, i.topic, i.creator_id, pb.board_id, coalesce(ab.boards, []::VARCHAR[]) AS boards, i.created_ms,
      coalesce(p.popularity, 0)::DOUBLE AS popularity
    FROM items i
    LEFT JOIN primary_board pb ON pb.item_id = i.item_id
    LEFT JOIN all_boards ab ON ab.item_id = i.item_id
    LEFT JOIN pop p ON p.item_id = i.item_id
    WHERE i.created_ms IS NULL OR i.created_ms < ${t}
    ORDER BY i.item_id`;
}

/** The catalog's ItemFeatureRows as of asOfMs, read over an open connection whose views eventsView made. */
export async function itemFeatureRowsFrom(conn: DuckDBConnection, asOfMs: number): Promise<ItemFeatureRow[]> {
  const rows = await queryRows<ItemFeatureRow>(conn, itemFeatureSql(asOfMs));
  for (const r of rows) {
    r.created_ms = r.created_ms == null ? null : Number(r.created_ms);
    r.popularity = Number(r.popularity);
    r.boards = r.boards ? [...r.boards] : [];
  }
  return rows;
}

/**
 * Every item of the world's catalog created before asOfMs, with its item-tower features as of
 * asOfMs (only events before asOfMs count). What the indexer embeds with encodeItemBatch(rows,
 * manifest, asOfMs).
 */
export async function itemFeatureRows(worldDir: string, asOfMs: number): Promise<ItemFeatureRow[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir, { beforeMs: asOfMs });
    return await itemFeatureRowsFrom(duck.conn, asOfMs);
  } finally {
    duck.close();
  }
}

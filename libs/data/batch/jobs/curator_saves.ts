import { defineBatchJob } from '../job.js';

/** Saves kept per curator. */
export const SAVES_PER_CURATOR = 100;

/** A row of `curator_saves`: what a creator's account saved, newest first. */
export interface CuratorSavesRow {
  creator_id: string;
  items: { item_id: string; time_ms: number }[];
}

/**
 * Rows: { creator_id, items: [{ item_id, time_ms }] }, newest first: what each creator saved with
 * its user account (creators.user_id): pins on the account's boards plus logged saves, each item
 * at its latest save. At most SAVES_PER_CURATOR per creator. No rows when the world has no
 * creators or none has an account.
 */
export const curatorSaves = defineBatchJob<CuratorSavesRow>()({
  name: 'curator_saves',
  description: `each creator account's ${SAVES_PER_CURATOR} most recent saves (board pins + logged saves), newest first`,
  sql: () => `
    WITH saves AS (
      SELECT b.owner_user_id AS user_id, bi.item_id, bi.added_ms AS time_ms
      FROM board_items bi JOIN boards b ON b.board_id = bi.board_id
      UNION ALL
      SELECT user_id, item_id, time_ms FROM events WHERE action = 'save'
    ),
    latest AS (
      SELECT c.creator_id, s.item_id, max(s.time_ms) AS time_ms
      FROM saves s JOIN creators c ON c.user_id = s.user_id
      WHERE s.item_id IS NOT NULL AND s.time_ms IS NOT NULL
      GROUP BY c.creator_id, s.item_id
      QUALIFY row_number() OVER (PARTITION BY c.creator_id ORDER BY max(s.time_ms) DESC, s.item_id) <= ${SAVES_PER_CURATOR}
    )
    SELECT creator_id,
      list_transform(list_sort(list({'rank': -time_ms, 'item_id': item_id, 'time_ms': time_ms})),
                     lambda x: {'item_id': x.item_id, 'time_ms': x.time_ms}) AS items
    FROM latest
    GROUP BY creator_id
    ORDER BY creator_id`,
});

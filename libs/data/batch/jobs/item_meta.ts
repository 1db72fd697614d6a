import { defineBatchJob } from '../job.js';

/** A row of `item_meta`: the catalog facts of one item. */
export interface ItemMetaRow {
  item_id: string;
  creator_id: string | null;
  topic: string | null;
  locale: string | null;
  created_ms: number;
}

/** Rows: { item_id, creator_id, topic, locale, created_ms } for every item created before asOfMs. */
export const itemMeta = defineBatchJob<ItemMetaRow>()({
  name: 'item_meta',
  description: 'catalog facts per item (creator, topic, locale, creation time), every item that exists as of asOfMs',
  sql: () => `
    SELECT item_id, creator_id, topic, locale, created_ms
    FROM items
    ORDER BY created_ms, item_id`,
});

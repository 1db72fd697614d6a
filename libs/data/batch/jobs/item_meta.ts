import type { BatchJob } from '../job.js';

/** Rows: { item_id, creator_id, topic, locale, created_ms } for every item created before asOfMs. */
export const itemMeta: BatchJob = {
  name: 'item_meta',
  description: 'catalog facts per item (creator, topic, locale, creation time), every item that exists as of asOfMs',
  sql: () => `
    SELECT item_id, creator_id, topic, locale, created_ms
    FROM items
    ORDER BY created_ms, item_id`,
};

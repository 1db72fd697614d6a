// The catalog facts the blend policy reads (creator and topic per item), from the item_meta
// snapshot: one conversion for the blender, which serves it, and the eval, which replays it.
import { itemMeta, type ItemMetaRow } from '../data/batch/jobs/item_meta.js';
import { defineSnapshotConsumer } from '../data/snapshot-source.js';
import type { ItemCatalog } from './types.js';

export function itemCatalogOf(rows: readonly ItemMetaRow[]): ItemCatalog {
  return new Map(rows.map((r) => [r.item_id, { creatorId: r.creator_id, topic: r.topic }]));
}

/** The blender's item catalog, kept current from the item_meta snapshot (see SnapshotSource). */
export const itemCatalogSnapshot = defineSnapshotConsumer({
  name: 'blender',
  snapshots: [itemMeta],
  prepare: (rows) => itemCatalogOf(rows.item_meta),
});

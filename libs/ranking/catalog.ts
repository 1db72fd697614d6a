// The ranker's view of the catalog: per item its topic, creator, locale, creation time and
// popularity. Served from the item_meta and popularity snapshots; the training-data builder makes
// the same rows from the same batch-job SQL as of the start of each day, so both see one definition.
import type { ScoredItem } from '../data/batch/job.js';
import { itemMeta, type ItemMetaRow } from '../data/batch/jobs/item_meta.js';
import { popularity } from '../data/batch/jobs/popularity.js';
import { defineSnapshotConsumer } from '../data/snapshot-source.js';
import type { RankerItem } from './encoding.js';

export type RankerCatalog = ReadonlyMap<string, RankerItem>;

/** Joins item_meta rows with popularity rows (items missing from the popularity rows get 0). */
export function rankerCatalog(
  itemMeta: readonly ItemMetaRow[],
  popularity: readonly ScoredItem[],
): Map<string, RankerItem> {
  const pop = new Map<string, number>();
  for (const r of popularity) pop.set(r.item_id, Number(r.score) || 0);
  const out = new Map<string, RankerItem>();
  for (const r of itemMeta) {
    out.set(r.item_id, {
      topic: r.topic ?? null,
      creatorId: r.creator_id ?? null,
      locale: r.locale ?? null,
      createdMs: r.created_ms == null ? null : Number(r.created_ms),
      popularity: pop.get(r.item_id) ?? 0,
    });
  }
  return out;
}

/** The ranker's catalog, kept current from the item_meta and popularity snapshots (see SnapshotSource). */
export const rankerCatalogSnapshot = defineSnapshotConsumer({
  name: 'ranker',
  snapshots: [itemMeta, popularity],
  prepare: (rows): RankerCatalog => rankerCatalog(rows.item_meta, rows.popularity),
});

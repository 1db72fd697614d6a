import path from 'node:path';
import { readIndex, type FaissIndex, type SearchOptions } from './faiss.js';
import { readRowIds, type RowIds } from './row-ids.js';
import {
  indexFileNames,
  indexedShardCounts,
  IndexIntegrityError,
  readIndexMeta,
  UNSHARDED,
  verifyIndexFiles,
  type IndexMeta,
  type ShardRef,
} from './index-files.js';

export interface Neighbor {
  itemId: string;
  score: number;
}

/** One query of a multi-query search: a vector and how many neighbours it wants. */
export interface SearchQuery {
  vector: Float32Array;
  k: number;
}

export interface ItemSearchOptions extends SearchOptions {
  /** Items to leave out of the answer. */
  exclude?: ReadonlySet<string>;
  /**
   * Most results fetched and largest efSearch of one search (HNSW work grows with both): k plus
   * the excluded items beyond it are cut, so such a search may answer fewer than k. Default: no cap.
   */
  maxEfSearch?: number;
}

/** A loaded item index: faiss rows plus the item id of each row. Read-only once loaded. */
export class ItemIndex {
  readonly ids: readonly string[];
  private readonly rowOf: ReadonlyMap<string, number>;

  constructor(
    readonly meta: IndexMeta,
    private readonly native: FaissIndex,
    rows: RowIds,
  ) {
    this.ids = rows.ids;
    this.rowOf = rows.rowOf;
  }

  get dim(): number {
    return this.meta.dim;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The default search parameters (efSearch for HNSW, nprobe for IVF). */
  setDefaults(options: SearchOptions): void {
    if (options.efSearch !== undefined) this.native.setEfSearch(options.efSearch);
    if (options.nprobe !== undefined) this.native.setNprobe(options.nprobe);
  }

  searchParams(): { efSearch: number; nprobe: number } {
    return this.native.searchParams();
  }

  /** The k nearest items to one vector (off the JS thread), best first, without excluded ones. */
  async search(vector: Float32Array, k: number, options: ItemSearchOptions = {}): Promise<Neighbor[]> {
    return (await this.searchMany([{ vector, k }], options))[0];
  }

  /**
   * The nearest items to each query, in one native search of all of them (off the JS thread): one
   * trip to the thread pool instead of one per query. Each answer is best first, without excluded
   * ones, at most its own k.
   */
  async searchMany(queries: readonly SearchQuery[], options: ItemSearchOptions = {}): Promise<Neighbor[][]> {
    for (const [q, { vector }] of queries.entries())
      if (vector.length !== this.dim)
        throw new RangeError(`query ${q}: vector has ${vector.length} dimensions, the index ${this.dim}`);
    const exclude = options.exclude;
    let excludedHere = 0;
    if (exclude) for (const id of exclude) if (this.rowOf.has(id)) excludedHere++;
    const cap = options.maxEfSearch ?? Infinity;
    const fetch = Math.min(this.size, cap, Math.max(0, ...queries.map((q) => q.k)) + excludedHere);
    if (fetch <= 0) return queries.map(() => []);
    let flat = queries[0].vector;
    if (queries.length > 1) {
      flat = new Float32Array(queries.length * this.dim);
      queries.forEach((q, i) => flat.set(q.vector, i * this.dim));
    }
    // HNSW needs efSearch ≥ the number of results asked for.
    const efSearch = options.efSearch || this.native.searchParams().efSearch;
    const { distances, labels } = await this.native.searchAsync(flat, fetch, {
      efSearch: efSearch ? Math.min(Math.max(efSearch, fetch), cap) : 0,
      nprobe: options.nprobe ?? 0,
    });
    return queries.map(({ k }, q) => {
      const out: Neighbor[] = [];
      for (let i = q * fetch; i < (q + 1) * fetch && out.length < k; i++) {
        const row = labels[i];
        if (row < 0) continue;
        const itemId = this.ids[row];
        if (exclude?.has(itemId)) continue;
        out.push({ itemId, score: distances[i] });
      }
      return out;
    });
  }

  /** The stored vectors of the given items; unknown items are left out. */
  vectorsOf(itemIds: readonly string[]): { itemId: string; vector: Float32Array }[] {
    const known = itemIds.filter((id) => this.rowOf.has(id));
    if (!known.length) return [];
    const flat = this.native.reconstructBatch(Int32Array.from(known, (id) => this.rowOf.get(id)!));
    return known.map((itemId, i) => ({ itemId, vector: flat.slice(i * this.dim, (i + 1) * this.dim) }));
  }

  has(itemId: string): boolean {
    return this.rowOf.has(itemId);
  }

  /** Searches in flight on the native index. */
  get pending(): number {
    return this.native.pendingOperations();
  }

  /** Frees the native index now, or once the searches in flight end. */
  dispose(): void {
    this.native.dispose();
  }
}

/**
 * Loads the item index of a registry version folder (only shard `shard` of a sharded index),
 * refusing anything inconsistent: a missing or malformed meta, files whose size or sha256 differ
 * from the meta (unless verify is false), a faiss file that does not read, or row counts and
 * dimensions that disagree.
 */
export async function loadItemIndex(
  dir: string,
  options: { verify?: boolean; shard?: ShardRef } = {},
): Promise<ItemIndex> {
  const ref = options.shard ?? UNSHARDED;
  const meta = await readIndexMeta(dir, ref);
  if (!meta) {
    const have = await indexedShardCounts(dir);
    const what = ref.shards === 1 ? 'no item index' : `no item index for shard ${ref.shard} of ${ref.shards}`;
    throw new IndexIntegrityError(
      dir,
      `there is ${what} (${indexFileNames(ref).meta} is absent: run the indexer${ref.shards > 1 ? ` with --shards ${ref.shards}` : ''}; ` +
        `indexed for: ${have.length ? have.map((n) => `${n} shard${n > 1 ? 's' : ''}`).join(', ') : 'nothing'})`,
    );
  }
  if (options.verify !== false) await verifyIndexFiles(dir, meta);
  const rows = await readRowIds(dir, ref);
  const ids = rows.ids;
  let native: FaissIndex;
  try {
    native = await readIndex(path.join(dir, indexFileNames(ref).index));
  } catch (err) {
    throw new IndexIntegrityError(dir, (err as Error).message);
  }
  const problem =
    native.ntotal() !== meta.items
      ? `the faiss file holds ${native.ntotal()} rows, the meta says ${meta.items}`
      : ids.length !== meta.items
        ? `the ids file lists ${ids.length} items, the meta says ${meta.items}`
        : native.getDimension() !== meta.dim
          ? `the faiss file has dimension ${native.getDimension()}, the meta says ${meta.dim}`
          : undefined;
  if (problem) {
    native.dispose();
    throw new IndexIntegrityError(dir, problem);
  }
  const index = new ItemIndex(meta, native, rows);
  if (meta.efSearch) index.setDefaults({ efSearch: meta.efSearch });
  return index;
}

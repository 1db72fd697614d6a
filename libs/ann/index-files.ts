import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { replaceFileAtomic, sha256File, syncDir, writeFileSynced } from '../registry/fs-atomic.js';
import type { FaissIndex, FaissIndexType, Metric } from './faiss.js';

/**
 * The item index of one model version, stored beside the model in its registry folder:
 *   item_index.faiss   the faiss index (rows 0..n-1)
 *   item_index.ids     the item id of each row, one per line
 *   item_index.json    what was built, how long it took, and each file's size and sha256
 * item_index.json is written last and removed first: a version has an index exactly when it is
 * present, and its checksums let a host refuse a truncated or replaced file.
 *
 * Sharded (n > 1 shards, items assigned by libs/ann/shards.ts), each shard s is the same three
 * files named item_index.shard-<s>-of-<n>.{faiss,ids,json}, its meta recording shard and shards;
 * a host of shard s reads only those. A version may hold several shardings side by side.
 */

export const INDEX_FILE = 'item_index.faiss';
export const IDS_FILE = 'item_index.ids';
export const INDEX_META_FILE = 'item_index.json';
export const INDEX_FORMAT = 1;

/** One shard of a sharding: shard s of n (the unsharded index is shard 0 of 1). */
export interface ShardRef {
  shard: number;
  shards: number;
}

export const UNSHARDED: ShardRef = { shard: 0, shards: 1 };

/** The file names of one shard's index (the historical names when unsharded). */
export function indexFileNames(ref: ShardRef = UNSHARDED): { index: string; ids: string; meta: string } {
  if (ref.shards === 1) return { index: INDEX_FILE, ids: IDS_FILE, meta: INDEX_META_FILE };
  const base = `item_index.shard-${ref.shard}-of-${ref.shards}`;
  return { index: `${base}.faiss`, ids: `${base}.ids`, meta: `${base}.json` };
}

const SHARD_META = /^item_index\.shard-(\d+)-of-(\d+)\.json$/;

export interface IndexFileEntry {
  bytes: number;
  sha256: string;
}

export interface IndexMeta {
  format: typeof INDEX_FORMAT;
  model: string;
  /** The model version whose item tower made the vectors. */
  version: string;
  /** faiss factory string, e.g. "HNSW32,Flat" or "Flat". */
  factory: string;
  indexType: FaissIndexType;
  metric: Metric;
  dim: number;
  items: number;
  /** Item features (age, popularity) were computed as of this time. */
  asOfMs: number;
  builtAtMs: number;
  timings: { featuresMs: number; embedMs: number; buildMs: number; writeMs: number; totalMs: number };
  /** HNSW efSearch the index was built to be searched with by default. */
  efSearch?: number;
  /** Which shard of how many this index is (0 of 1 when unsharded; absent in older metas). */
  shard: number;
  shards: number;
  /** Items in the whole catalog, over all shards (items: in this shard). */
  catalogItems: number;
  files: { index: IndexFileEntry; ids: IndexFileEntry };
}

export class IndexIntegrityError extends Error {
  constructor(
    readonly dir: string,
    problem: string,
  ) {
    super(`item index in ${dir}: ${problem}`);
    this.name = 'IndexIntegrityError';
  }
}

const tmpName = (file: string) => `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

/** Writes the index, its ids and its meta into dir, atomically (see the layout above); meta.shard/shards pick the file names. */
export async function writeIndexFiles(
  dir: string,
  index: FaissIndex,
  ids: readonly string[],
  meta: Omit<IndexMeta, 'files' | 'format'>,
): Promise<IndexMeta> {
  if (index.ntotal() !== ids.length)
    throw new Error(`the index holds ${index.ntotal()} rows but ${ids.length} ids were given`);
  const badId = ids.findIndex((id) => !id || /[\n\r]/.test(id));
  if (badId >= 0)
    throw new Error(`item id at row ${badId} is empty or has a line break: ${JSON.stringify(ids[badId])}`);
  if (
    !Number.isInteger(meta.shards) ||
    meta.shards < 1 ||
    !Number.isInteger(meta.shard) ||
    meta.shard < 0 ||
    meta.shard >= meta.shards
  ) {
    throw new Error(`bad shard ${meta.shard} of ${meta.shards}`);
  }
  const names = indexFileNames(meta);
  const indexPath = path.join(dir, names.index);
  const idsPath = path.join(dir, names.ids);
  const metaPath = path.join(dir, names.meta);
  const indexTmp = tmpName(indexPath);
  const idsTmp = tmpName(idsPath);
  try {
    index.write(indexTmp);
    const handle = await fs.open(indexTmp, 'r+');
    await handle.sync().finally(() => handle.close());
    await writeFileSynced(idsTmp, `${ids.join('\n')}\n`);
    const files = { index: await entryOf(indexTmp), ids: await entryOf(idsTmp) };
    // Readers see "no index" (never new data with an old meta) while the files are replaced.
    await fs.rm(metaPath, { force: true });
    await fs.rename(indexTmp, indexPath);
    await fs.rename(idsTmp, idsPath);
    await syncDir(dir);
    const full: IndexMeta = { format: INDEX_FORMAT, ...meta, files };
    await replaceFileAtomic(metaPath, `${JSON.stringify(full, null, 2)}\n`);
    return full;
  } finally {
    await fs.rm(indexTmp, { force: true });
    await fs.rm(idsTmp, { force: true });
  }
}

async function entryOf(file: string): Promise<IndexFileEntry> {
  return { bytes: (await fs.stat(file)).size, sha256: await sha256File(file) };
}

/** The index meta of one shard (default: the unsharded index) of a version folder, or undefined when it has none (complete). */
export async function readIndexMeta(dir: string, ref: ShardRef = UNSHARDED): Promise<IndexMeta | undefined> {
  const file = indexFileNames(ref).meta;
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let meta: IndexMeta;
  try {
    meta = JSON.parse(text) as IndexMeta;
  } catch (err) {
    throw new IndexIntegrityError(dir, `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (meta.format !== INDEX_FORMAT)
    throw new IndexIntegrityError(dir, `${file} has format ${meta.format}; this build reads format ${INDEX_FORMAT}`);
  for (const key of ['model', 'version', 'factory', 'indexType', 'metric'] as const) {
    if (typeof meta[key] !== 'string' || !meta[key]) throw new IndexIntegrityError(dir, `${file} lacks "${key}"`);
  }
  if (!Number.isInteger(meta.dim) || meta.dim < 1 || !Number.isInteger(meta.items) || meta.items < 0) {
    throw new IndexIntegrityError(dir, `${file} has a bad dim (${meta.dim}) or item count (${meta.items})`);
  }
  if (!meta.files?.index?.sha256 || !meta.files?.ids?.sha256)
    throw new IndexIntegrityError(dir, `${file} lacks the files' checksums`);
  // Metas written before sharding describe the whole catalog in one index.
  meta.shard ??= 0;
  meta.shards ??= 1;
  meta.catalogItems ??= meta.items;
  if (meta.shard !== ref.shard || meta.shards !== ref.shards) {
    throw new IndexIntegrityError(
      dir,
      `${file} describes shard ${meta.shard} of ${meta.shards}, not shard ${ref.shard} of ${ref.shards}`,
    );
  }
  return meta;
}

/** True when every shard of the n-shard index of a version folder has its meta (is complete). */
export async function hasIndex(dir: string, shards = 1): Promise<boolean> {
  for (let shard = 0; shard < shards; shard++) {
    if (!(await readIndexMeta(dir, { shard, shards }).catch(() => undefined))) return false;
  }
  return true;
}

/** The shard counts a version folder has complete indexes for, e.g. [1, 2]. */
export async function indexedShardCounts(dir: string): Promise<number[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const counts = new Set<number>();
  if (names.includes(INDEX_META_FILE)) counts.add(1);
  for (const name of names) {
    const m = SHARD_META.exec(name);
    if (m) counts.add(Number(m[2]));
  }
  const complete: number[] = [];
  for (const n of [...counts].sort((a, b) => a - b)) if (await hasIndex(dir, n)) complete.push(n);
  return complete;
}

/** Checks both files against the meta: present, the recorded size, and (reading them) the recorded sha256. */
export async function verifyIndexFiles(dir: string, meta: IndexMeta): Promise<void> {
  const names = indexFileNames(meta);
  for (const [file, entry] of [
    [names.index, meta.files.index],
    [names.ids, meta.files.ids],
  ] as const) {
    const full = path.join(dir, file);
    const stat = await fs.stat(full).catch(() => undefined);
    if (!stat) throw new IndexIntegrityError(dir, `${file} is missing`);
    if (stat.size !== entry.bytes)
      throw new IndexIntegrityError(
        dir,
        `${file} has ${stat.size} bytes, ${names.meta} records ${entry.bytes} (truncated or replaced)`,
      );
    const sha = await sha256File(full);
    if (sha !== entry.sha256)
      throw new IndexIntegrityError(
        dir,
        `${file} sha256 ${sha.slice(0, 12)}… differs from the recorded ${entry.sha256.slice(0, 12)}… (corrupt or replaced)`,
      );
  }
}

/** The item ids of the index rows (of the shard `ref`). */
export async function readIds(dir: string, ref: ShardRef = UNSHARDED): Promise<string[]> {
  const text = await fs.readFile(path.join(dir, indexFileNames(ref).ids), 'utf8');
  const ids = text.split('\n');
  if (ids[ids.length - 1] === '') ids.pop();
  return ids;
}

// The item id of each row of an index file, and each id's row: read once per process and shared by
// every host that loads the same file. An all-in-one process runs two ANN hosts on one version, and
// each kept its own 50,000 id strings and map, for the garbage collector to walk twice.
import fs from 'node:fs/promises';
import path from 'node:path';
import { indexFileNames, readIds, type ShardRef } from './index-files.js';

export interface RowIds {
  ids: readonly string[];
  rowOf: ReadonlyMap<string, number>;
}

// By file, size and mtime (an index file never changes once written; a new one is a new key).
// Held weakly: the entry goes when the last index using it is dropped.
const loaded = new Map<string, WeakRef<RowIds>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (!loaded.get(key)?.deref()) loaded.delete(key);
});

export async function readRowIds(dir: string, ref: ShardRef): Promise<RowIds> {
  const file = path.resolve(dir, indexFileNames(ref).ids);
  const { size, mtimeMs } = await fs.stat(file);
  const key = `${file}\0${size}\0${mtimeMs}`;
  const cached = loaded.get(key)?.deref();
  if (cached) return cached;
  const ids = await readIds(dir, ref);
  const rows: RowIds = { ids, rowOf: new Map(ids.map((id, row) => [id, row])) };
  loaded.set(key, new WeakRef(rows));
  forget.register(rows, key);
  return rows;
}

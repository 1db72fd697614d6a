import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildIndex, chooseFactory } from './build.js';
import { createIndex } from './faiss.js';
import {
  hasIndex,
  IDS_FILE,
  INDEX_FILE,
  INDEX_META_FILE,
  indexedShardCounts,
  indexFileNames,
  IndexIntegrityError,
  readIndexMeta,
  writeIndexFiles,
} from './index-files.js';
import { loadItemIndex } from './item-index.js';

/** n unit vectors in dim dimensions, seeded. */
function unitVectors(n: number, dim: number, seed = 1): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out[i * dim + j] = rand()) ** 2;
    for (let j = 0; j < dim; j++) out[i * dim + j] /= Math.sqrt(norm);
  }
  return out;
}

const dim = 16;
const n = 600;
const ids = Array.from({ length: n }, (_, i) => `i${i}`);

async function writeVersion(type: 'flat' | 'hnsw', vectors = unitVectors(n, dim)) {
  const dir = mkdtempSync(join(tmpdir(), 'feedloom-ann-'));
  const built = await buildIndex(vectors, dim, { type });
  const meta = await writeIndexFiles(dir, built.index, ids, {
    model: 'two_tower',
    version: 'v0001',
    factory: built.factory,
    indexType: built.indexType,
    metric: 'inner_product',
    dim,
    items: n,
    asOfMs: 0,
    builtAtMs: Date.now(),
    timings: { featuresMs: 0, embedMs: 0, buildMs: built.buildMs, writeMs: 0, totalMs: built.buildMs },
    efSearch: type === 'hnsw' ? 64 : undefined,
    shard: 0,
    shards: 1,
    catalogItems: n,
  });
  built.index.dispose();
  return { dir, meta, vectors };
}

describe('chooseFactory', () => {
  it('is exact Flat for small catalogs and HNSW32 for large ones', () => {
    expect(chooseFactory(10_000).factory).toBe('Flat');
    expect(chooseFactory(1_000_000).factory).toBe('HNSW32,Flat');
    expect(chooseFactory(10, { type: 'hnsw' }).indexType).toBe('HNSW');
  });
});

describe('item index files', () => {
  it('round-trips: written atomically, loaded with checksums, searched by item id', async () => {
    const { dir, meta, vectors } = await writeVersion('flat');
    expect(readdirSync(dir).sort()).toEqual([IDS_FILE, INDEX_FILE, INDEX_META_FILE].sort());
    expect(meta.files.index.bytes).toBeGreaterThan(n * dim * 4);
    const index = await loadItemIndex(dir);
    expect(index.size).toBe(n);
    const query = vectors.slice(7 * dim, 8 * dim);
    const hits = await index.search(query, 5);
    expect(hits[0]).toEqual({ itemId: 'i7', score: expect.closeTo(1, 5) });
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
    // Excluded items are left out and the answer is still k long.
    const without = await index.search(query, 5, { exclude: new Set(['i7', hits[1].itemId]) });
    expect(without.map((h) => h.itemId)).not.toContain('i7');
    expect(without).toHaveLength(5);
    // k larger than the catalog: every item once.
    expect(await index.search(query, 10_000)).toHaveLength(n);
    index.dispose();
  });

  it('gives back the stored vectors of known items and skips unknown ones', async () => {
    const { dir, vectors } = await writeVersion('hnsw');
    const index = await loadItemIndex(dir);
    const got = index.vectorsOf(['i3', 'nope', 'i599']);
    expect(got.map((g) => g.itemId)).toEqual(['i3', 'i599']);
    expect(Array.from(got[0].vector)).toEqual(Array.from(vectors.slice(3 * dim, 4 * dim)));
    index.dispose();
  });

  it('HNSW honours efSearch and agrees with exact search on easy data', async () => {
    const { dir, vectors } = await writeVersion('hnsw');
    const index = await loadItemIndex(dir);
    expect(index.meta.indexType).toBe('HNSW');
    expect(index.searchParams().efSearch).toBe(64);
    const hits = await index.search(vectors.slice(0, dim), 10, { efSearch: 200 });
    expect(hits[0].itemId).toBe('i0');
    index.dispose();
  });

  it('refuses a truncated faiss file, naming the problem', async () => {
    const { dir } = await writeVersion('flat');
    const file = join(dir, INDEX_FILE);
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    const err = await loadItemIndex(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IndexIntegrityError);
    expect((err as Error).message).toMatch(/item_index\.faiss has 1000 bytes.*truncated/);
  });

  it('refuses a faiss file of the right size whose bytes changed', async () => {
    const { dir } = await writeVersion('flat');
    const file = join(dir, INDEX_FILE);
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 0xff;
    writeFileSync(file, bytes);
    await expect(loadItemIndex(dir)).rejects.toThrow(/sha256 .* differs/);
  });

  it('without checksum verification, faiss itself still refuses garbage', async () => {
    const { dir, meta } = await writeVersion('flat');
    writeFileSync(join(dir, INDEX_FILE), Buffer.alloc(meta.files.index.bytes, 7));
    await expect(loadItemIndex(dir, { verify: false })).rejects.toThrow(/cannot read faiss index/);
  });

  it('a folder without item_index.json has no index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedloom-ann-'));
    expect(await readIndexMeta(dir)).toBeUndefined();
    await expect(loadItemIndex(dir)).rejects.toThrow(/no item index/);
  });

  it('keeps each shard of a sharded index in its own files, loads only the asked shard, and refuses a mismatch', async () => {
    const { dir, vectors } = await writeVersion('flat');
    const half = [ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 2 === 1)];
    for (const shard of [0, 1]) {
      const index = createIndex(dim, 'Flat');
      const rows = half[shard].map((id) => Number(id.slice(1)));
      const part = new Float32Array(rows.length * dim);
      rows.forEach((row, i) => part.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim));
      index.add(part);
      const base = {
        model: 'two_tower',
        version: 'v0001',
        factory: 'Flat',
        indexType: 'Flat' as const,
        metric: 'inner_product' as const,
        dim,
        asOfMs: 0,
        builtAtMs: 0,
      };
      const timings = { featuresMs: 0, embedMs: 0, buildMs: 0, writeMs: 0, totalMs: 0 };
      await writeIndexFiles(dir, index, half[shard], {
        ...base,
        items: rows.length,
        catalogItems: n,
        shard,
        shards: 2,
        timings,
      });
      index.dispose();
    }
    expect(readdirSync(dir)).toContain('item_index.shard-1-of-2.faiss');
    expect(await indexedShardCounts(dir)).toEqual([1, 2]);
    expect(await hasIndex(dir, 2)).toBe(true);
    expect(await hasIndex(dir, 3)).toBe(false);
    const shard1 = await loadItemIndex(dir, { shard: { shard: 1, shards: 2 } });
    expect(shard1.size).toBe(n / 2);
    expect(shard1.meta).toMatchObject({ shard: 1, shards: 2, items: n / 2, catalogItems: n });
    expect(shard1.has('i1')).toBe(true);
    expect(shard1.has('i0')).toBe(false);
    expect((await shard1.search(vectors.slice(0, dim), 5)).map((h) => h.itemId)).not.toContain('i0');
    shard1.dispose();
    // The unsharded index of the same version is still there, and a shard count without files is named.
    const whole = await loadItemIndex(dir);
    expect(whole.meta).toMatchObject({ shard: 0, shards: 1, items: n });
    whole.dispose();
    await expect(loadItemIndex(dir, { shard: { shard: 0, shards: 3 } })).rejects.toThrow(
      /no item index for shard 0 of 3 .*--shards 3.*indexed for: 1 shard, 2 shards/,
    );
    // A meta copied under another shard's name is refused.
    writeFileSync(
      join(dir, indexFileNames({ shard: 0, shards: 2 }).meta),
      readFileSync(join(dir, indexFileNames({ shard: 1, shards: 2 }).meta)),
    );
    await expect(loadItemIndex(dir, { shard: { shard: 0, shards: 2 } })).rejects.toThrow(
      /describes shard 1 of 2, not shard 0 of 2/,
    );
  });

  it('leaves no temporary files behind when writing fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'feedloom-ann-'));
    const index = createIndex(dim, 'Flat');
    index.add(unitVectors(3, dim));
    await expect(writeIndexFiles(dir, index, ['a', 'b'], {} as never)).rejects.toThrow(/3 rows but 2 ids/);
    await expect(writeIndexFiles(dir, index, ['a', 'b\nc', 'd'], {} as never)).rejects.toThrow(/line break/);
    expect(existsSync(join(dir, INDEX_META_FILE))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    index.dispose();
  });
});

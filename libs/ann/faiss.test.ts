// The patched faiss-node (scripts/patches/faiss-node+0.5.1.patch): async search off the JS thread
// with Float32Array input, per-search efSearch/nprobe, safe dispose and mutation guards.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIndex, faiss, readIndex, REQUIRED_FAISS_PATCH, type FaissIndex } from './faiss.js';

function unit(n: number, dim: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++)
      norm += (out[i * dim + j] = (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) ** 2;
    for (let j = 0; j < dim; j++) out[i * dim + j] /= Math.sqrt(norm);
  }
  return out;
}

async function recall(
  index: FaissIndex,
  exact: FaissIndex,
  queries: Float32Array,
  dim: number,
  k: number,
  options: { efSearch?: number; nprobe?: number },
) {
  let hits = 0;
  const nq = queries.length / dim;
  for (let q = 0; q < nq; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim);
    const want = new Set((await exact.searchAsync(query, k)).labels);
    for (const l of (await index.searchAsync(query, k, options)).labels) if (want.has(l)) hits++;
  }
  return hits / (nq * k);
}

describe('patched faiss-node', () => {
  const dim = 32;
  const base = unit(4000, dim, 1);
  const queries = unit(40, dim, 2);

  it('is the patched build', () => {
    expect(faiss().FEEDLOOM_PATCH).toBe(REQUIRED_FAISS_PATCH);
  });

  it('searches a Float32Array off the JS thread and answers typed arrays, padded with -1', async () => {
    const index = createIndex(dim, 'Flat');
    index.add(base.subarray(0, 5 * dim));
    const pending = index.searchAsync(base.subarray(0, dim), 8);
    expect(pending).toBeInstanceOf(Promise);
    expect(index.pendingOperations()).toBe(1);
    const { labels, distances } = await pending;
    expect(labels).toBeInstanceOf(Int32Array);
    expect(distances).toBeInstanceOf(Float32Array);
    expect(labels[0]).toBe(0);
    expect(distances[0]).toBeCloseTo(1, 5);
    expect(Array.from(labels.subarray(5))).toEqual([-1, -1, -1]);
    expect(index.pendingOperations()).toBe(0);
    expect(() => index.searchAsync(new Float32Array(dim + 1), 3)).toThrow(
      /not a positive multiple of the dimension 32/,
    );
    expect(() => index.searchAsync(new Float64Array(dim) as unknown as Float32Array, 3)).toThrow(/Float32Array/);
    index.dispose();
  });

  it('answers many queries in one call', async () => {
    const index = createIndex(dim, 'Flat');
    index.add(base);
    const { labels } = await index.searchAsync(base.subarray(0, 3 * dim), 1);
    expect(Array.from(labels)).toEqual([0, 1, 2]);
    index.dispose();
  });

  it('HNSW: a larger per-search efSearch finds more of the exact neighbours', async () => {
    const exact = createIndex(dim, 'Flat');
    exact.add(base);
    const hnsw = createIndex(dim, 'HNSW16,Flat');
    await hnsw.addAsync(base);
    const low = await recall(hnsw, exact, queries, dim, 50, { efSearch: 1 });
    const high = await recall(hnsw, exact, queries, dim, 50, { efSearch: 800 });
    expect(high).toBeGreaterThan(low);
    expect(high).toBeGreaterThan(0.95);
    // The index default applies when a search gives none.
    hnsw.setEfSearch(800);
    expect(hnsw.searchParams().efSearch).toBe(800);
    expect(await recall(hnsw, exact, queries, dim, 50, {})).toBe(high);
    // Writing stores the index's own efSearch, not the raised search capacity.
    hnsw.setEfSearch(0);
    const file = join(mkdtempSync(join(tmpdir(), 'feedloom-faiss-')), 'h.faiss');
    hnsw.write(file);
    const again = await readIndex(file);
    expect(again.searchParams().efSearch).toBe(16);
    expect(again.indexType()).toBe('HNSW');
    for (const i of [exact, hnsw, again]) i.dispose();
  });

  it('IVF: a larger per-search nprobe finds more of the exact neighbours', async () => {
    const exact = createIndex(dim, 'Flat');
    exact.add(base);
    const ivf = createIndex(dim, 'IVF32,Flat');
    await ivf.trainAsync(base);
    await ivf.addAsync(base);
    const low = await recall(ivf, exact, queries, dim, 20, { nprobe: 1 });
    const all = await recall(ivf, exact, queries, dim, 20, { nprobe: 32 });
    expect(all).toBeCloseTo(1, 5);
    expect(all).toBeGreaterThan(low);
    exact.dispose();
    ivf.dispose();
  });

  it('keeps the JS thread free while a long search runs', async () => {
    const big = createIndex(dim, 'Flat');
    big.add(unit(100_000, dim, 3));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let ticksWhenDone = -1;
    await big.searchAsync(unit(400, dim, 4), 100).then(() => (ticksWhenDone = ticks));
    clearInterval(timer);
    expect(ticksWhenDone).toBeGreaterThan(2);
    big.dispose();
  });

  it('refuses to change an index while a search runs, and disposes only after it ends', async () => {
    const index = createIndex(dim, 'Flat');
    index.add(base);
    const running = index.searchAsync(queries, 10);
    expect(() => index.add(base.subarray(0, dim))).toThrow(/while 1 async operation\(s\) use this faiss index/);
    index.dispose();
    expect(index.isDisposed()).toBe(true);
    // The search that was running still completes against the index it started on.
    expect((await running).labels.length).toBe(400);
    expect(() => index.ntotal()).toThrow(/disposed/);
    await expect(Promise.resolve().then(() => index.searchAsync(queries, 1))).rejects.toThrow(/disposed/);
  });

  it('refuses searches while an async add runs', async () => {
    const index = createIndex(dim, 'HNSW16,Flat');
    const adding = index.addAsync(base);
    expect(() => index.searchAsync(queries, 1)).toThrow(/being added to or trained/);
    await adding;
    expect(index.ntotal()).toBe(4000);
    index.dispose();
  });

  it('Flat inner-product searches: the SSE kernel answers exactly what faiss itself answers', async () => {
    const module = faiss();
    expect(module.flatKernel()).toBe(true);
    // Values on a coarse grid, so that many rows tie on score: ties are where a different heap or
    // reservoir order would show. 5,003 rows: the kernel's blocks of rows and of 8 do not divide it.
    for (const d of [32, 13]) {
      let s = 7 + d;
      const grid = (n: number) =>
        Float32Array.from(
          { length: n },
          () => Math.round(((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 8 - 4) / 4,
        );
      const rows = 5003;
      const index = createIndex(d, 'Flat', 'inner_product');
      index.add(grid(rows * d));
      // k below and above faiss's reservoir threshold (100), k beyond the rows (padded with -1);
      // one query up to 19 (from 20 on, faiss hands the search to BLAS and so does the patch).
      for (const nq of [1, 3, 19, 20])
        for (const k of [1, 10, 99, 100, 101, 400, rows + 5]) {
          const q = grid(nq * d);
          module.setFlatKernel(false);
          let ownAnswer: Awaited<ReturnType<FaissIndex['searchAsync']>>;
          try {
            ownAnswer = await index.searchAsync(q, k);
          } finally {
            module.setFlatKernel(true);
          }
          const kernelAnswer = await index.searchAsync(q, k);
          const same = (a: Float32Array | Int32Array, b: Float32Array | Int32Array) =>
            Buffer.compare(
              Buffer.from(a.buffer, a.byteOffset, a.byteLength),
              Buffer.from(b.buffer, b.byteOffset, b.byteLength),
            );
          expect(same(kernelAnswer.distances, ownAnswer.distances), `d=${d} nq=${nq} k=${k}: scores`).toBe(0);
          expect(same(kernelAnswer.labels, ownAnswer.labels), `d=${d} nq=${nq} k=${k}: rows`).toBe(0);
        }
      index.dispose();
    }
  });

  it('reports unreadable files as errors, not crashes', async () => {
    await expect(readIndex('/nonexistent/x.faiss')).rejects.toThrow(/cannot read faiss index \/nonexistent\/x\.faiss/);
  });
});

import { createIndex, type FaissIndex, type FaissIndexType } from './faiss.js';

export type IndexChoice = 'auto' | 'hnsw' | 'flat';

export interface BuildIndexOptions {
  /** auto: exact Flat up to flatMaxItems, HNSW above (default auto). */
  type?: IndexChoice;
  /** Largest catalog auto builds an exact Flat index for (default 50,000: below that, exact search is cheap). */
  flatMaxItems?: number;
  /** HNSW neighbours per node (default 32). */
  hnswM?: number;
  /** Vectors added per async call, to bound the copy handed to faiss (default 65,536). */
  chunkRows?: number;
}

/** The faiss factory string for a catalog of n items. */
export function chooseFactory(
  n: number,
  options: BuildIndexOptions = {},
): { factory: string; indexType: FaissIndexType } {
  const type = options.type ?? 'auto';
  const hnsw = type === 'hnsw' || (type === 'auto' && n > (options.flatMaxItems ?? 50_000));
  return hnsw
    ? { factory: `HNSW${options.hnswM ?? 32},Flat`, indexType: 'HNSW' }
    : { factory: 'Flat', indexType: 'Flat' };
}

/** An inner-product index over n × dim vectors (row i is item i), built off the JS thread. */
export async function buildIndex(
  vectors: Float32Array,
  dim: number,
  options: BuildIndexOptions = {},
): Promise<{ index: FaissIndex; factory: string; indexType: FaissIndexType; buildMs: number }> {
  if (vectors.length % dim !== 0)
    throw new RangeError(`${vectors.length} values are not a whole number of ${dim}-dimensional vectors`);
  const n = vectors.length / dim;
  const { factory, indexType } = chooseFactory(n, options);
  const started = performance.now();
  const index = createIndex(dim, factory, 'inner_product');
  try {
    const chunk = (options.chunkRows ?? 65_536) * dim;
    for (let at = 0; at < vectors.length; at += chunk)
      await index.addAsync(vectors.subarray(at, Math.min(vectors.length, at + chunk)));
  } catch (err) {
    index.dispose();
    throw err;
  }
  return { index, factory, indexType, buildMs: performance.now() - started };
}

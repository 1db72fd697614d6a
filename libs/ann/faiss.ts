import { createRequire } from 'node:module';

/**
 * faiss-node, as patched by scripts/patches/faiss-node+0.5.1.patch (applied and built by
 * scripts/build-faiss-node.sh): searches on the libuv thread pool with Float32Array input and no
 * per-call leak, per-search efSearch/nprobe, async reads and adds, deterministic dispose, and
 * exact inner-product searches of Flat indexes scored four rows per SSE register (faiss's own
 * answers, bit for bit).
 */

export const MetricType = { INNER_PRODUCT: 0, L2: 1 } as const;
export type Metric = 'inner_product' | 'l2';

export interface SearchOptions {
  /** HNSW efSearch for this search (0/absent: the index default). */
  efSearch?: number;
  /** IVF nprobe for this search (0/absent: the index default). */
  nprobe?: number;
}

export interface NativeSearchResult {
  /** nq × k scores (inner product or squared L2), best first per query. */
  distances: Float32Array;
  /** nq × k row numbers; -1 pads when fewer than k rows exist. */
  labels: Int32Array;
}

export type FaissIndexType = 'HNSW' | 'IVF' | 'Flat' | 'Other';

/** One native faiss index. */
export interface FaissIndex {
  ntotal(): number;
  getDimension(): number;
  isTrained(): boolean;
  add(x: Float32Array): void;
  addAsync(x: Float32Array): Promise<void>;
  trainAsync(x: Float32Array): Promise<void>;
  searchAsync(x: Float32Array, k: number, options?: SearchOptions): Promise<NativeSearchResult>;
  reconstructBatch(ids: Int32Array): Float32Array;
  setEfSearch(efSearch: number): void;
  setNprobe(nprobe: number): void;
  searchParams(): { efSearch: number; nprobe: number };
  indexType(): FaissIndexType;
  metricType(): number;
  pendingOperations(): number;
  dispose(): void;
  isDisposed(): boolean;
  write(path: string): void;
}

interface FaissModule {
  FEEDLOOM_PATCH?: number;
  /** Whether Flat inner-product searches use the patch's SSE kernel (see the patch's README). */
  flatKernel(): boolean;
  /** Off: faiss's own search (for tests that compare the two); process-wide. */
  setFlatKernel(enabled: boolean): void;
  Index: {
    fromFactory(dim: number, description: string, metric?: number): FaissIndex;
    readAsync(path: string): Promise<FaissIndex>;
  };
}

/** The patch generation this code needs (FEEDLOOM_FAISS_NODE_PATCH in the patch file). */
export const REQUIRED_FAISS_PATCH = 3;

let loaded: FaissModule | undefined;

/** faiss-node, checked to carry feedloom's patch; a clear error says how to build it otherwise. */
export function faiss(): FaissModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  let module: FaissModule;
  try {
    module = require('faiss-node') as FaissModule;
  } catch (err) {
    throw new Error(
      `faiss-node cannot be loaded (${(err as Error).message.split('\n')[0]}); build it with scripts/build-faiss-node.sh (make setup)`,
    );
  }
  if (module.FEEDLOOM_PATCH !== REQUIRED_FAISS_PATCH) {
    throw new Error(
      `faiss-node is built without feedloom's patch ${REQUIRED_FAISS_PATCH} (found ${module.FEEDLOOM_PATCH ?? 'none'}): ` +
        'run scripts/build-faiss-node.sh (make setup), which applies scripts/patches/faiss-node+0.5.1.patch',
    );
  }
  loaded = module;
  return module;
}

/** A new empty index from a faiss factory string, e.g. "HNSW32,Flat" or "Flat". */
export function createIndex(dim: number, description: string, metric: Metric = 'inner_product'): FaissIndex {
  return faiss().Index.fromFactory(
    dim,
    description,
    metric === 'inner_product' ? MetricType.INNER_PRODUCT : MetricType.L2,
  );
}

/** Reads an index file off the JS thread. */
export function readIndex(path: string): Promise<FaissIndex> {
  return faiss().Index.readAsync(path);
}

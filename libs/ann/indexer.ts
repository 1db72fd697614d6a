import path from 'node:path';
import { buildIndex, type BuildIndexOptions } from './build.js';
import { indexFileNames, writeIndexFiles, type IndexMeta } from './index-files.js';
import { servableVersions, type TwoTowerVersion } from './model-versions.js';
import { partitionByShard } from './shards.js';
import { DAY_MS, readWorldManifest } from '../data/world.js';
import {
  encodeItemBatch,
  ITEM_OUTPUT,
  ITEM_TOWER_FILE,
  itemTowerInputs,
  TWO_TOWER_MODEL,
  type ItemFeatureRow,
  type TwoTowerManifest,
} from '../features/two-tower.js';
import { OnnxSessionPool } from '../onnx/pool.js';
import { tensor, type Feeds } from '../onnx/tensors.js';
import { replaceFileAtomic } from '../registry/fs-atomic.js';
import { ModelRegistry, verifyArtifacts } from '../registry/registry.js';
import { itemFeatureRows } from '../training/item-features.js';

/**
 * The indexer: runs a model version's item tower over the whole catalog (in batches, on an onnx
 * worker pool) and builds the faiss index of that version, stored beside the model in its
 * registry folder (see libs/ann/index-files.ts). The slow step of a rollout. With n shards it
 * builds one index per shard, items assigned by a stable hash of their id (libs/ann/shards.ts).
 * Run as a job by `feedloom index` (services/offline/indexer), by a rollout and by the eval.
 */

export interface IndexerOptions {
  registryDir: string;
  worldDir: string;
  model?: string;
  /** Default: the newest servable version (not training, not rejected). */
  version?: string;
  /** Item features as of this time. Default: the end of the world's last day. */
  asOfMs?: number;
  /** Items per item-tower run (default 1024). */
  batchSize?: number;
  /** onnx worker threads (default 2). */
  workers?: number;
  index?: BuildIndexOptions;
  /** Default efSearch recorded for an HNSW index (default 64). */
  efSearch?: number;
  /** Rows to index instead of the world's catalog (tests, imports). */
  rows?: ItemFeatureRow[];
  /** Shards to split the catalog into, one index each (default 1: one index of everything). */
  shards?: number;
  log?: (line: string) => void;
}

export interface IndexerResult {
  model: string;
  version: string;
  dir: string;
  /** The meta of shard 0 (of the whole index when unsharded). */
  meta: IndexMeta;
  /** The meta of every shard, in shard order. */
  shards: IndexMeta[];
}

export async function runIndexer(options: IndexerOptions): Promise<IndexerResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const shards = options.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shards must be an integer ≥ 1 (got ${shards})`);
  const model = options.model ?? TWO_TOWER_MODEL;
  const registry = new ModelRegistry(options.registryDir);
  const info = await pickVersion(registry, model, options.version);
  const manifest = info.manifest;
  if (!Number.isInteger(manifest.dim) || manifest.dim < 1)
    throw new Error(`${model}/${info.version}: the manifest has no embedding dim`);
  // The item tower must be exactly what was registered (a truncated or replaced file is refused).
  await verifyArtifacts(info);

  const asOfMs = options.asOfMs ?? (await worldEndMs(options.worldDir));
  let t = performance.now();
  const rows = options.rows ?? (await itemFeatureRows(options.worldDir, asOfMs));
  const featuresMs = performance.now() - t;
  if (rows.length === 0)
    throw new Error(`the catalog of ${options.worldDir} has no items before ${new Date(asOfMs).toISOString()}`);
  log(`${model}/${info.version}: embedding ${rows.length} items (features as of ${new Date(asOfMs).toISOString()})`);

  t = performance.now();
  const vectors = await embedItems(path.join(info.dir, ITEM_TOWER_FILE), rows, manifest, asOfMs, options);
  const embedMs = performance.now() - t;

  const ids = rows.map((r) => r.item_id);
  const metas: IndexMeta[] = [];
  for (const [shard, shardRows] of partitionByShard(ids, shards).entries()) {
    const part = shards === 1 ? vectors : gatherRows(vectors, manifest.dim, shardRows);
    // Flat or HNSW by what one host searches: the shard's items.
    const built = await buildIndex(part, manifest.dim, options.index);
    const label = shards === 1 ? '' : ` shard ${shard} of ${shards}`;
    log(
      `${model}/${info.version}${label}: built ${built.factory} over ${shardRows.length} items in ${built.buildMs.toFixed(0)} ms`,
    );
    t = performance.now();
    try {
      const meta = await writeIndexFiles(
        info.dir,
        built.index,
        shardRows.map((row) => ids[row]),
        {
          model,
          version: info.version,
          factory: built.factory,
          indexType: built.indexType,
          metric: 'inner_product',
          dim: manifest.dim,
          items: shardRows.length,
          catalogItems: rows.length,
          shard,
          shards,
          asOfMs,
          builtAtMs: Date.now(),
          efSearch: built.indexType === 'HNSW' ? (options.efSearch ?? 64) : undefined,
          timings: {
            featuresMs: round(featuresMs),
            embedMs: round(embedMs),
            buildMs: round(built.buildMs),
            writeMs: 0,
            totalMs: 0,
          },
        },
      );
      metas.push(await finishTimings(info.dir, meta, performance.now() - t, performance.now() - started));
    } finally {
      built.index.dispose();
    }
  }
  return { model, version: info.version, dir: info.dir, meta: metas[0], shards: metas };
}

/** The given rows of an n × dim matrix, as a new matrix. */
function gatherRows(vectors: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => out.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim));
  return out;
}

/** Records the write and total times in the meta (they are only known once the files are written). */
async function finishTimings(dir: string, meta: IndexMeta, writeMs: number, totalMs: number): Promise<IndexMeta> {
  const full = { ...meta, timings: { ...meta.timings, writeMs: round(writeMs), totalMs: round(totalMs) } };
  await replaceFileAtomic(path.join(dir, indexFileNames(meta).meta), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

async function pickVersion(registry: ModelRegistry, model: string, version?: string): Promise<TwoTowerVersion> {
  if (version) return registry.get<TwoTowerManifest>(model, version);
  const { versions, problems } = await servableVersions(registry, model);
  const newest = versions[versions.length - 1];
  if (!newest) {
    const why = problems.length ? `; unreadable: ${problems.map((p) => `${p.version} (${p.error})`).join(', ')}` : '';
    throw new Error(`no servable version of ${model} in the registry at ${registry.root} (train one first)${why}`);
  }
  return newest;
}

async function worldEndMs(worldDir: string): Promise<number> {
  const world = await readWorldManifest(worldDir);
  return world.startMs + world.days * DAY_MS;
}

/** The item tower over every row, batchSize at a time, as many batches in flight as workers. */
async function embedItems(
  modelPath: string,
  rows: ItemFeatureRow[],
  manifest: TwoTowerManifest,
  asOfMs: number,
  options: IndexerOptions,
): Promise<Float32Array> {
  const dim = manifest.dim;
  const batchSize = options.batchSize ?? 1024;
  const workers = options.workers ?? 2;
  const pool = await OnnxSessionPool.open(modelPath, {
    workers,
    name: `${manifest.model}/${manifest.version} item tower`,
  });
  const output = manifest.onnx?.itemOutput ?? ITEM_OUTPUT;
  const vectors = new Float32Array(rows.length * dim);
  try {
    let next = 0;
    const lane = async () => {
      while (next < rows.length) {
        const start = next;
        next += batchSize;
        const batch = rows.slice(start, start + batchSize);
        const encoded = encodeItemBatch(batch, manifest, asOfMs);
        // Exactly what this version's item tower takes (older versions have no boards input).
        const feeds: Feeds = {};
        for (const [name, { data, dims }] of Object.entries(
          itemTowerInputs(encoded, batch.length, manifest, pool.inputNames),
        ))
          feeds[name] = tensor(data, dims);
        const out = (await pool.run(feeds))[output];
        if (!out) throw new Error(`${modelPath} has no output "${output}"`);
        if (out.dims.length !== 2 || out.dims[0] !== batch.length || out.dims[1] !== dim) {
          throw new Error(
            `${modelPath} returned ${output} of shape [${out.dims.join(', ')}], expected [${batch.length}, ${dim}]`,
          );
        }
        const data = out.data as Float32Array;
        checkVectors(data, dim, start, rows);
        vectors.set(data, start * dim);
      }
    };
    await Promise.all(Array.from({ length: workers }, lane));
  } finally {
    await pool.close();
  }
  return vectors;
}

/** Sanity: every item vector finite and non-zero (a degenerate tower must not become an index). */
function checkVectors(data: Float32Array, dim: number, start: number, rows: ItemFeatureRow[]): void {
  for (let i = 0; i < data.length / dim; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = data[i * dim + j];
      if (!Number.isFinite(v))
        throw new Error(`the item tower gave a non-finite value for item ${rows[start + i].item_id}`);
      norm += v * v;
    }
    if (norm < 1e-12) throw new Error(`the item tower gave a zero vector for item ${rows[start + i].item_id}`);
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

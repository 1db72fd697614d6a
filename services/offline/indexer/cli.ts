// `feedloom index …`: runs the indexer (libs/ann/indexer.ts) for a model version of the registry.
import { join, resolve } from 'node:path';
import type { IndexChoice } from '../../../libs/ann/build.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { defineCommand, intFlag, JSON_OUTPUT, MODEL, REGISTRY, WORLD } from '../../../libs/bootstrap/command.js';
import { annShardCount, loadMeshConfig, registryDirOf } from '../../../libs/config/mesh.js';

export const indexCommand = defineCommand({
  name: 'index',
  usage: '[--version V]',
  summary: 'run the item tower over the catalog and build the faiss index (see index --help)',
  about: `Runs a model version's item tower over the whole catalog and stores a faiss index of that version
beside the model in its registry folder (item_index.faiss, item_index.ids, item_index.json), or
with --shards N one index per shard (item_index.shard-S-of-N.*), items assigned by a hash of their id.`,
  options: {
    version: { type: 'string', arg: 'V', help: 'the version to index (default: the newest servable one)' },
    model: MODEL,
    world: { ...WORLD, help: "the world whose catalog is indexed (default: the config's world.dir)" },
    registry: REGISTRY,
    'as-of': {
      type: 'string',
      arg: 'MS',
      help: "item features as of this time, ms since the epoch (default: the config's world.asOfMs, or the end of the world's data)",
    },
    type: {
      type: 'string',
      arg: 'auto|hnsw|flat',
      default: 'auto',
      help: 'index type (default auto: exact Flat up to --flat-max items, HNSW32 above)',
    },
    'flat-max': { type: 'string', arg: 'N', help: 'largest catalog (per shard) auto indexes exactly (default 50000)' },
    shards: {
      type: 'string',
      arg: 'N',
      help: "one index per shard (default: the shard count of the config's ann.hosts, 1 without ANN hosts)",
    },
    batch: { type: 'string', arg: 'N', help: 'items per item-tower run (default 1024)' },
    workers: { type: 'string', arg: 'N', help: 'onnx worker threads (default 2)' },
    json: { ...JSON_OUTPUT, help: 'print the index meta as JSON' },
  },
  run: ({ values }) => runIndex(values),
});

async function runIndex(values: {
  config: string;
  version?: string;
  model: string;
  world?: string;
  registry?: string;
  'as-of'?: string;
  type: string;
  'flat-max'?: string;
  shards?: string;
  batch?: string;
  workers?: string;
  json: boolean;
}): Promise<number> {
  const type = values.type as IndexChoice;
  if (!['auto', 'hnsw', 'flat'].includes(type))
    throw new Error(`--type must be auto, hnsw or flat (got "${values.type}")`);
  // Flags first, then the mesh config (which is only read when a flag leaves something open).
  const needConfig = !values.world || !values.registry || values['as-of'] === undefined || values.shards === undefined;
  const mesh = needConfig ? loadMeshConfig(values.config) : undefined;
  const worldDir = resolve(values.world ?? mesh!.world.dir);
  const registryDir = resolve(values.registry ?? (values.world ? join(worldDir, 'models') : registryDirOf(mesh!)));
  const log = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const result = await runIndexer({
    registryDir,
    worldDir,
    model: values.model,
    version: values.version,
    asOfMs: intFlag('as-of', values['as-of'], 1) ?? (values.world ? undefined : mesh?.world.asOfMs),
    batchSize: intFlag('batch', values.batch, 1),
    workers: intFlag('workers', values.workers, 1),
    index: { type, flatMaxItems: intFlag('flat-max', values['flat-max'], 0) },
    shards: intFlag('shards', values.shards, 1) ?? (mesh ? annShardCount(mesh) : 1),
    log,
  });
  if (values.json) console.log(JSON.stringify(result.shards.length === 1 ? result.meta : result.shards, null, 2));
  else {
    for (const m of result.shards) {
      const which = m.shards === 1 ? '' : ` shard ${m.shard} of ${m.shards}:`;
      console.log(
        `${m.model} ${m.version}:${which} ${m.factory} index of ${m.items} items (dim ${m.dim}) in ${result.dir}\n` +
          `  features ${fmt(m.timings.featuresMs)}, item tower ${fmt(m.timings.embedMs)}, build ${fmt(m.timings.buildMs)}, write ${fmt(m.timings.writeMs)}; total ${fmt(m.timings.totalMs)}; ` +
          `${(m.files.index.bytes / 1e6).toFixed(1)} MB`,
      );
    }
  }
  return 0;
}

const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

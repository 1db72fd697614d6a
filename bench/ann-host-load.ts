// An ANN host under load, end to end over gRPC: a two_tower version with a synthetic item index
// (N unit vectors) in a temporary registry, one ANN host serving it, and C concurrent clients
// calling Search (k=100) for D seconds from a separate process. Reports searches/s, Search latency,
// the latency of a health check sent meanwhile, and the host's own event-loop delay — what other
// calls on that host wait for while it searches.
//
//   node --import tsx bench/ann-host-load.ts [--items 200000] [--dim 64] [--type flat|hnsw] [--concurrency 16] [--seconds 10]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AnnSearchClient } from '../generated/feedloom/v1/ann.js';
import { HealthClient } from '../generated/grpc/health/v1/health.js';
import { buildIndex } from '../libs/ann/build.js';
import { writeIndexFiles } from '../libs/ann/index-files.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { ModelRegistry } from '../libs/registry/registry.js';
import { startAnnHost } from '../services/ann/service.js';

const { values } = parseArgs({
  options: {
    client: { type: 'string' },
    items: { type: 'string', default: '200000' },
    dim: { type: 'string', default: '64' },
    type: { type: 'string', default: 'flat' },
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '10' },
    k: { type: 'string', default: '100' },
  },
});
const dim = Number(values.dim);
const k = Number(values.k);
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const r2 = (x: number) => Math.round(x * 100) / 100;

function unit(n: number, seed: number): Float32Array {
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

if (values.client) {
  // The load generator: C lanes of Search plus a health check every 20 ms, for D seconds.
  const search = connect(AnnSearchClient, values.client);
  const health = connect(HealthClient, values.client);
  const queries = unit(256, 7);
  const searchMs: number[] = [];
  const healthMs: number[] = [];
  let stop = false;
  let errors = 0;
  const lane = async (offset: number) => {
    for (let i = offset; !stop; i++) {
      const vector = Array.from(queries.subarray((i % 256) * dim, ((i % 256) + 1) * dim));
      const t = performance.now();
      try {
        await callUnary(
          search,
          'search',
          { model: 'two_tower', version: 'v0001', vector, k, excludeItems: [], efSearch: 0, nprobe: 0 },
          { timeoutMs: 30_000 },
        );
        searchMs.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  const probe = async () => {
    while (!stop) {
      const t = performance.now();
      await callUnary(health, 'check', { service: 'feedloom.v1.AnnSearch' }, { timeoutMs: 30_000 });
      healthMs.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const seconds = Number(values.seconds);
  const started = performance.now();
  const lanes = [...Array.from({ length: Number(values.concurrency) }, (_, i) => lane(i * 17)), probe()];
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  await Promise.all(lanes);
  const elapsed = (performance.now() - started) / 1000;
  searchMs.sort((a, b) => a - b);
  healthMs.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      searchesPerSecond: Math.round(searchMs.length / elapsed),
      errors,
      searchMs: { p50: r2(quantile(searchMs, 0.5)), p99: r2(quantile(searchMs, 0.99)) },
      healthCheckMs: {
        p50: r2(quantile(healthMs, 0.5)),
        p99: r2(quantile(healthMs, 0.99)),
        max: r2(healthMs[healthMs.length - 1] ?? 0),
      },
    }),
  );
  search.close();
  health.close();
  process.exit(0);
}

const items = Number(values.items);
const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-bench-registry-'));
const registry = new ModelRegistry(registryDir);
const created = await registry.create('two_tower', async (tmp) => {
  // The host only requires that a version lists an item tower; this benchmark indexes synthetic vectors instead.
  writeFileSync(join(tmp, 'item_tower.onnx'), 'not a model: synthetic vectors are indexed directly');
  return { kind: 'two_tower', dim };
});
await registry.setState('two_tower', created.version, 'trained', 'benchmark');
const ids = Array.from({ length: items }, (_, i) => `i${i}`);
const built = await buildIndex(unit(items, 1), dim, { type: values.type as 'flat' | 'hnsw' });
await writeIndexFiles(created.dir, built.index, ids, {
  model: 'two_tower',
  version: created.version,
  factory: built.factory,
  indexType: built.indexType,
  metric: 'inner_product',
  dim,
  items,
  shard: 0,
  shards: 1,
  catalogItems: items,
  asOfMs: Date.now(),
  builtAtMs: Date.now(),
  timings: { featuresMs: 0, embedMs: 0, buildMs: built.buildMs, writeMs: 0, totalMs: built.buildMs },
});
built.index.dispose();
const host = await startAnnHost({ name: 'bench', registryDir, port: 0, efSearch: 128, log: () => {} });
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
// Async: the host must keep serving while the client process runs.
const { stdout: out } = await promisify(execFile)(
  process.execPath,
  [
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--client',
    host.address,
    '--seconds',
    String(values.seconds),
    '--concurrency',
    String(values.concurrency),
    '--dim',
    String(dim),
    '--k',
    String(k),
  ],
  { encoding: 'utf8' },
);
loop.disable();
await host.stop(100);
const result = {
  ...JSON.parse(out.trim().split('\n').pop()!),
  hostLoopDelayMs: { p50: r2(loop.percentile(50) / 1e6), p99: r2(loop.percentile(99) / 1e6), max: r2(loop.max / 1e6) },
};
console.log(
  `ANN host under load: ${built.factory} over ${items.toLocaleString()} × ${dim}, k=${k}, ${values.concurrency} concurrent gRPC clients, ${values.seconds} s; ` +
    `${cpus().length} cores (${cpus()[0]?.model}); node ${process.version}; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; ${new Date().toISOString()}`,
);
console.log(
  `${result.searchesPerSecond} searches/s (${result.errors} errors); Search p50 ${result.searchMs.p50} ms, p99 ${result.searchMs.p99} ms; ` +
    `health check p50 ${result.healthCheckMs.p50} ms, p99 ${result.healthCheckMs.p99} ms, max ${result.healthCheckMs.max} ms; ` +
    `host event-loop delay p50 ${result.hostLoopDelayMs.p50} ms, p99 ${result.hostLoopDelayMs.p99} ms, max ${result.hostLoopDelayMs.max} ms`,
);
console.log(JSON.stringify(result));

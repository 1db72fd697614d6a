// HNSW32,Flat against exact search (Flat) on N unit vectors (default 1,000,000 × 64, inner
// product): build time, recall@k of HNSW against the exact top k at several efSearch values, and
// the per-query speed-up (single queries, one at a time on the patched searchAsync, as a serving
// host runs them). The vectors are a seeded mixture of Gaussian clusters, normalized: each point is
// a random centre (norm ≈ 1) plus Gaussian noise of norm ≈ --noise. Small noise is closer to real
// embeddings; --noise 2.8 is nearly uniform on the sphere, the hard case for every ANN method.
//
//   node --import tsx bench/ann-hnsw-recall.ts [--items 1000000] [--dim 64] [--queries 500] [--k 100] [--ef 128,256,512,1024] [--noise 0.5] [--doc]
// --doc writes its section of docs/BENCHMARKS.md (latencies: the median and p99 over the queries).
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createIndex } from '../libs/ann/faiss.js';
import { percentile, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    dim: { type: 'string', default: '64' },
    queries: { type: 'string', default: '500' },
    k: { type: 'string', default: '100' },
    ef: { type: 'string', default: '128,256,512,1024' },
    noise: { type: 'string', default: '0.5' },
    clusters: { type: 'string', default: '2000' },
    m: { type: 'string', default: '32' },
    doc: { type: 'boolean', default: false },
  },
});
const n = Number(values.items);
const dim = Number(values.dim);
const nq = Number(values.queries);
const k = Number(values.k);
const efs = values.ef!.split(',').map(Number);
const clusters = Number(values.clusters);
const noise = Number(values.noise) / Math.sqrt(dim);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}
/** rows unit vectors: a random cluster centre plus noise, normalized. */
function mixture(rows: number, seed: number, centres: Float32Array): Float32Array {
  const rand = rng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(rand() * clusters);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = centres[c * dim + j] + noise * gaussian(rand);
      out[i * dim + j] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
  }
  return out;
}

const centreRand = rng(99);
const centres = Float32Array.from({ length: clusters * dim }, () => gaussian(centreRand) / Math.sqrt(dim));
const mb = (b: number) => Math.round(b / 2 ** 20);

console.log(
  `HNSW${values.m},Flat vs Flat (exact), inner product, ${n.toLocaleString()} × ${dim} (mixture of ${clusters} clusters, noise ${values.noise}), ${nq} queries, k=${k}; ${cpus().length} cores (${cpus()[0]?.model}); node ${process.version}; ${new Date().toISOString()}`,
);
let t = performance.now();
const base = mixture(n, 1, centres);
const queries = mixture(nq, 2, centres);
console.log(`data generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const rss0 = process.memoryUsage().rss;
const flat = createIndex(dim, 'Flat');
t = performance.now();
await flat.addAsync(base);
const flatBuild = performance.now() - t;
const hnsw = createIndex(dim, `HNSW${values.m},Flat`);
t = performance.now();
const CHUNK = 100_000 * dim;
for (let at = 0; at < base.length; at += CHUNK) {
  await hnsw.addAsync(base.subarray(at, Math.min(base.length, at + CHUNK)));
  process.stderr.write(
    `\rHNSW build: ${Math.min(n, (at + CHUNK) / dim).toLocaleString()} / ${n.toLocaleString()} (${((performance.now() - t) / 1000).toFixed(0)} s)`,
  );
}
process.stderr.write('\n');
const hnswBuild = performance.now() - t;
console.log(
  `build: Flat ${(flatBuild / 1000).toFixed(1)} s, HNSW ${(hnswBuild / 1000).toFixed(1)} s; RSS with both indexes ${mb(process.memoryUsage().rss)} MB (+${mb(process.memoryUsage().rss - rss0)} MB)`,
);

// Exact answers and the exact per-query time (single queries, one at a time).
const exact: Int32Array[] = [];
const exactTimes: number[] = [];
t = performance.now();
for (let q = 0; q < nq; q++) {
  const q0 = performance.now();
  exact.push((await flat.searchAsync(queries.subarray(q * dim, (q + 1) * dim), k)).labels);
  exactTimes.push(performance.now() - q0);
}
const exactMs = (performance.now() - t) / nq;
console.log(`exact (Flat): ${exactMs.toFixed(2)} ms per query`);

console.log('efSearch   recall@' + String(k).padEnd(4) + '  ms/query   speed-up vs exact');
const results: Record<string, unknown>[] = [];
for (const ef of efs) {
  let hits = 0;
  const times: number[] = [];
  t = performance.now();
  for (let q = 0; q < nq; q++) {
    const q0 = performance.now();
    const { labels } = await hnsw.searchAsync(queries.subarray(q * dim, (q + 1) * dim), k, {
      efSearch: Math.max(ef, k),
    });
    times.push(performance.now() - q0);
    const want = new Set(exact[q]);
    for (const l of labels) if (want.has(l)) hits++;
  }
  const ms = (performance.now() - t) / nq;
  const recall = hits / (nq * k);
  results.push({
    efSearch: Math.max(ef, k),
    recall: Math.round(recall * 10000) / 10000,
    msPerQuery: Math.round(ms * 1000) / 1000,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    speedUp: Math.round((exactMs / ms) * 10) / 10,
  });
  console.log(
    `${String(Math.max(ef, k)).padStart(8)}   ${recall.toFixed(4).padEnd(10)}  ${ms.toFixed(3).padStart(8)}   ${(exactMs / ms).toFixed(1)}×`,
  );
}
console.log(
  JSON.stringify({
    items: n,
    dim,
    clusters,
    noise: Number(values.noise),
    queries: nq,
    k,
    buildSeconds: { flat: Math.round(flatBuild / 100) / 10, hnsw: Math.round(hnswBuild / 100) / 10 },
    exactMsPerQuery: Math.round(exactMs * 1000) / 1000,
    hnsw: results,
  }),
);
flat.dispose();
hnsw.dispose();
if (values.doc) {
  const r = (x: unknown) => x as number;
  writeSection(
    'ann-hnsw-recall',
    `ANN recall and latency against exact search (${n.toLocaleString('en')} × ${dim})`,
    `node --import tsx bench/ann-hnsw-recall.ts --items ${n} --dim ${dim} --queries ${nq} --k ${k} --doc`,
    [
      `HNSW${values.m},Flat against exact Flat search, inner product, on a seeded mixture of ${clusters} Gaussian clusters (noise ${values.noise}); ${nq} single queries one at a time (searchAsync, as a serving host runs them), k = ${k}. Build: Flat ${(flatBuild / 1000).toFixed(1)} s, HNSW ${(hnswBuild / 1000).toFixed(1)} s. Latencies are the median and p99 over the ${nq} queries; recall is deterministic for the seeded data, so one build is measured.`,
      '',
      table(
        ['search', 'recall@' + k, 'p50 ms', 'p99 ms', 'mean ms', 'speed-up over exact (mean)'],
        [
          ['exact (Flat)', 1, percentile(exactTimes, 50), percentile(exactTimes, 99), exactMs, '1×'],
          ...results.map((x) => [
            `HNSW efSearch ${x.efSearch}`,
            r(x.recall).toFixed(3),
            r(x.p50),
            r(x.p99),
            r(x.msPerQuery),
            `${r(x.speedUp)}×`,
          ]),
        ],
      ),
    ].join('\n'),
  );
}

// RSS over N searches (default 1,000,000): faiss-node 0.5.1 as published (sync `search` with a
// plain array, leaking its query buffer every call) against the patched build (sync `search`, and
// `searchAsync` with a Float32Array on the libuv pool). Each variant runs in its own process.
//
//   node --import tsx bench/ann-search-leak.ts [--searches 1000000] [--items 1000] [--dim 64] [--k 10]
//
// Prints a table and one JSON line per variant.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadUnpatched, unpatchedFaissDir } from './ann-unpatched.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    searches: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '1000' },
    dim: { type: 'string', default: '64' },
    k: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
  },
});
const searches = Number(values.searches);
const items = Number(values.items);
const dim = Number(values.dim);
const k = Number(values.k);
const VARIANTS = ['unpatched-sync-array', 'patched-sync-array', 'patched-async-float32'] as const;

function vectors(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  return out;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

async function runVariant(variant: (typeof VARIANTS)[number]): Promise<void> {
  const faiss = variant.startsWith('unpatched') ? loadUnpatched() : createRequire(import.meta.url)('faiss-node');
  const index = faiss.Index.fromFactory(dim, 'Flat', 0);
  const base = vectors(items, 1);
  index.add(Array.from(base));
  const queries = vectors(1000, 2);
  const asArrays = Array.from({ length: 1000 }, (_, i) => Array.from(queries.subarray(i * dim, (i + 1) * dim)));
  const asFloat32 = Array.from({ length: 1000 }, (_, i) => queries.slice(i * dim, (i + 1) * dim));
  // Warm up, then measure from a settled heap.
  for (let i = 0; i < 2000; i++) index.search(asArrays[i % 1000], k);
  global.gc?.();
  const before = process.memoryUsage();
  const started = performance.now();
  if (variant === 'patched-async-float32') {
    let next = 0;
    const lane = async () => {
      while (next < searches) {
        const i = next++;
        await index.searchAsync(asFloat32[i % 1000], k);
      }
    };
    await Promise.all(Array.from({ length: Number(values.concurrency) }, lane));
  } else {
    for (let i = 0; i < searches; i++) index.search(asArrays[i % 1000], k);
  }
  const seconds = (performance.now() - started) / 1000;
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const after = process.memoryUsage();
  console.log(
    JSON.stringify({
      variant,
      searches,
      items,
      dim,
      k,
      seconds: Math.round(seconds * 10) / 10,
      searchesPerSecond: Math.round(searches / seconds),
      rssBeforeMB: mb(before.rss),
      rssAfterMB: mb(after.rss),
      rssGrowthMB: mb(after.rss - before.rss),
      bytesPerSearch: Math.round((after.rss - before.rss) / searches),
      heapUsedAfterMB: mb(after.heapUsed),
    }),
  );
}

if (values.variant) {
  await runVariant(values.variant as (typeof VARIANTS)[number]);
} else {
  unpatchedFaissDir(); // build it once, outside the measurements
  const self = fileURLToPath(import.meta.url);
  console.log(
    `faiss search RSS: ${searches.toLocaleString()} searches, Flat IP over ${items} × ${dim}, k=${k}; ${cpus().length} cores (${cpus()[0]?.model}); node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log('variant                     s   searches/s  RSS before  RSS after  growth MB  bytes/search');
  const rows: string[] = [];
  for (const variant of VARIANTS) {
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        self,
        '--variant',
        variant,
        '--searches',
        String(searches),
        '--items',
        String(items),
        '--dim',
        String(dim),
        '--k',
        String(k),
        '--concurrency',
        String(values.concurrency),
      ],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const line = out.trim().split('\n').pop()!;
    rows.push(line);
    const r = JSON.parse(line);
    console.log(
      `${r.variant.padEnd(24)} ${String(r.seconds).padStart(5)} ${String(r.searchesPerSecond).padStart(11)} ${String(r.rssBeforeMB).padStart(10)} ${String(r.rssAfterMB).padStart(10)} ${String(r.rssGrowthMB).padStart(10)} ${String(r.bytesPerSearch).padStart(13)}`,
    );
  }
  for (const r of rows) console.log(r);
}

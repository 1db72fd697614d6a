// Event-loop delay while a process searches under load: faiss-node 0.5.1 as published (sync
// `search` on the JS thread) against the patched build (`searchAsync` on the libuv thread pool).
// C concurrent request loops search a Flat index (heavy enough that one search takes milliseconds,
// like a large HNSW search or a big k) for D seconds; meanwhile the event-loop delay is sampled
// (perf_hooks.monitorEventLoopDelay) and a 5 ms timer measures how late it fires — what a health
// check, a deadline timer or a second RPC waiting on that thread would see.
//
//   node --import tsx bench/ann-event-loop.ts [--items 200000] [--dim 64] [--k 100] [--concurrency 8] [--seconds 10]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadUnpatched, unpatchedFaissDir } from './ann-unpatched.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    items: { type: 'string', default: '200000' },
    dim: { type: 'string', default: '64' },
    k: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
  },
});
const items = Number(values.items);
const dim = Number(values.dim);
const k = Number(values.k);
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const VARIANTS = ['unpatched-sync', 'patched-async'] as const;

function vectors(n: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  return out;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function runVariant(variant: (typeof VARIANTS)[number]) {
  const faiss = variant === 'unpatched-sync' ? loadUnpatched() : createRequire(import.meta.url)('faiss-node');
  const index = faiss.Index.fromFactory(dim, 'Flat', 0);
  // The unpatched build only takes plain arrays: add in slices to keep the copy small.
  const base = vectors(items, 1);
  for (let at = 0; at < base.length; at += 20_000 * dim) index.add(Array.from(base.subarray(at, at + 20_000 * dim)));
  const queries = vectors(256, 2);
  const arrays = Array.from({ length: 256 }, (_, i) => Array.from(queries.subarray(i * dim, (i + 1) * dim)));
  const floats = Array.from({ length: 256 }, (_, i) => queries.slice(i * dim, (i + 1) * dim));

  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const lateness: number[] = [];
  let stop = false;
  const probe = () => {
    const due = performance.now() + 5;
    setTimeout(() => {
      lateness.push(performance.now() - due);
      if (!stop) probe();
    }, 5);
  };
  let done = 0;
  const lane = async (offset: number) => {
    for (let i = offset; !stop; i++) {
      if (variant === 'unpatched-sync') {
        await new Promise((r) => setImmediate(r)); // let other work in between searches
        index.search(arrays[i % 256], k);
      } else {
        await index.searchAsync(floats[i % 256], k);
      }
      done++;
    }
  };
  histogram.enable();
  probe();
  const started = performance.now();
  const lanes = Array.from({ length: concurrency }, (_, i) => lane(i * 31));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  await Promise.all(lanes);
  const elapsed = (performance.now() - started) / 1000;
  histogram.disable();
  lateness.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      variant,
      items,
      dim,
      k,
      concurrency,
      seconds: r2(elapsed),
      searchesPerSecond: Math.round(done / elapsed),
      loopDelayMs: {
        p50: r2(histogram.percentile(50) / 1e6),
        p99: r2(histogram.percentile(99) / 1e6),
        max: r2(histogram.max / 1e6),
      },
      timer5msLateMs: {
        p50: r2(quantile(lateness, 0.5)),
        p99: r2(quantile(lateness, 0.99)),
        max: r2(lateness[lateness.length - 1] ?? 0),
      },
    }),
  );
}

if (values.variant) {
  await runVariant(values.variant as (typeof VARIANTS)[number]);
} else {
  unpatchedFaissDir();
  const self = fileURLToPath(import.meta.url);
  console.log(
    `event-loop delay while searching: Flat IP over ${items} × ${dim}, k=${k}, ${concurrency} concurrent loops, ${seconds} s; ${cpus().length} cores (${cpus()[0]?.model}); node ${process.version}; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; ${new Date().toISOString()}`,
  );
  console.log('variant           searches/s   loop delay p50 / p99 / max (ms)   5 ms timer late p50 / p99 / max (ms)');
  const rows: string[] = [];
  for (const variant of VARIANTS) {
    const args = [
      '--import',
      'tsx',
      self,
      '--variant',
      variant,
      '--items',
      String(items),
      '--dim',
      String(dim),
      '--k',
      String(k),
      '--concurrency',
      String(concurrency),
      '--seconds',
      String(seconds),
    ];
    const line = execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').pop()!;
    rows.push(line);
    const r = JSON.parse(line);
    console.log(
      `${r.variant.padEnd(16)} ${String(r.searchesPerSecond).padStart(11)}   ${`${r.loopDelayMs.p50} / ${r.loopDelayMs.p99} / ${r.loopDelayMs.max}`.padEnd(32)}   ${r.timer5msLateMs.p50} / ${r.timer5msLateMs.p99} / ${r.timer5msLateMs.max}`,
    );
  }
  for (const r of rows) console.log(r);
}

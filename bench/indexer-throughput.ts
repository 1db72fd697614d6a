// Indexer throughput: the item tower over the whole catalog (onnxruntime workers) and the faiss
// build, on a copy of the world's two_tower version (the world's own registry is not touched).
//   node --import tsx bench/indexer-throughput.ts [--world data/default] [--runs 3] [--workers 2] [--type auto|flat|hnsw] [--doc]
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runIndexer } from '../libs/ann/indexer.js';
import { median, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    world: { type: 'string', default: 'data/default' },
    runs: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    type: { type: 'string', default: 'auto' },
    doc: { type: 'boolean', default: false },
  },
});
const worldDir = resolve(values.world!);
const runs = Number(values.runs);
const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-bench-indexer-'));
cpSync(join(worldDir, 'models', 'two_tower'), join(registryDir, 'two_tower'), { recursive: true });

interface Run {
  items: number;
  dim: number;
  factory: string;
  featuresMs: number;
  embedMs: number;
  buildMs: number;
  writeMs: number;
  totalMs: number;
}
const results: Run[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const { meta } = await runIndexer({
      registryDir,
      worldDir,
      workers: Number(values.workers),
      index: values.type === 'auto' ? undefined : { type: values.type as 'flat' | 'hnsw' },
    });
    results.push({ items: meta.items, dim: meta.dim, factory: meta.factory, ...meta.timings });
    console.log(`run ${run + 1}/${runs}:`, results[results.length - 1]);
  }
} finally {
  rmSync(registryDir, { recursive: true, force: true });
}

const m = (k: Exclude<keyof Run, 'factory'>) => median(results.map((r) => r[k]));
const body = [
  `The item tower (onnxruntime, ${values.workers} worker threads) over the catalog of \`${values.world}\`, then the faiss build (${results[0].factory}) and the atomic write; medians of ${runs} runs.`,
  '',
  table(
    [
      'items',
      'dim',
      'index',
      'features ms',
      'embed ms',
      'build ms',
      'write ms',
      'total ms',
      'items/s embedded',
      'items/s end to end',
    ],
    [
      [
        m('items'),
        m('dim'),
        results[0].factory,
        m('featuresMs'),
        m('embedMs'),
        m('buildMs'),
        m('writeMs'),
        m('totalMs'),
        Math.round((m('items') / m('embedMs')) * 1000),
        Math.round((m('items') / m('totalMs')) * 1000),
      ],
    ],
  ),
].join('\n');
if (values.doc)
  writeSection(
    'indexer',
    'Indexer throughput',
    `node --import tsx bench/indexer-throughput.ts --world ${values.world} --runs ${runs} --workers ${values.workers} --doc`,
    body,
  );
console.log(body);
process.exit(0);

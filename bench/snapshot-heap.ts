// How much of the JS heap each generator's prepared snapshot data holds: each enabled generator's
// snapshots are read and prepared in turn, as its SnapshotSource would, and the heap is measured
// after a full GC before and after (the data kept alive). Off-heap bytes (ArrayBuffers and
// SharedArrayBuffers) are reported beside, since they do not grow the old space.
//   node --expose-gc --import tsx bench/snapshot-heap.ts [--config config/mesh.json]
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { loadMeshConfig, snapshotsDirOf } from '../libs/config/mesh.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { parseGeneratorSettings, type GeneratorModule } from '../libs/generator-sdk/define.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { table } from './lib.js';

const { values } = parseArgs({ options: { config: { type: 'string', default: 'config/mesh.json' } } });
const mesh = loadMeshConfig(values.config);
const dir = snapshotsDirOf(mesh);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heap() {
  gc!();
  gc!();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
  const m = process.memoryUsage();
  return { used: m.heapUsed, old, offHeap: m.arrayBuffers };
}

/** Reads and prepares a generator's snapshots; only what prepare keeps outlives the call. */
async function load(module: GeneratorModule<unknown>, settings: Record<string, unknown>) {
  let snapshotRows = 0;
  const rows: Record<string, unknown[]> = {};
  for (const s of module.snapshots) {
    rows[s.name] = (await readSnapshot(dir, s.name)).rows;
    snapshotRows += rows[s.name].length;
  }
  return { data: module.prepare ? module.prepare(rows as never, settings, mesh) : rows, snapshotRows };
}

const MB = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const kept: unknown[] = [];
const rows: { name: string; heap: number; old: number; offHeap: number; snapshotRows: number }[] = [];
const start = heap();
for (const g of mesh.generators.filter((g) => g.enabled)) {
  const module = await loadGeneratorModule(g.name);
  const settings = parseGeneratorSettings(module, g.settings);
  const before = heap();
  let loaded: { data: unknown; snapshotRows: number };
  try {
    loaded = await load(module, settings);
  } catch (err) {
    console.log(`${g.name}: skipped (${(err as Error).message})`);
    continue;
  }
  kept.push(loaded.data);
  const after = heap();
  rows.push({
    name: g.name,
    heap: after.used - before.used,
    old: after.old - before.old,
    offHeap: after.offHeap - before.offHeap,
    snapshotRows: loaded.snapshotRows,
  });
}
const end = heap();
rows.sort((a, b) => b.heap - a.heap);
console.log(`world ${mesh.world.preset} (${dir}), ${rows.length} generators, Node ${process.version}`);
console.log(
  table(
    ['generator', 'snapshot rows', 'JS heap MB', 'old space MB', 'off-heap MB'],
    rows.map((r) => [r.name, r.snapshotRows, MB(r.heap), MB(r.old), MB(r.offHeap)]),
  ),
);
console.log(
  `all generators: JS heap ${MB(end.used - start.used)} MB (old space ${MB(end.old - start.old)} MB), ` +
    `off-heap ${MB(end.offHeap - start.offHeap)} MB; old space in use after load ${MB(end.old)} MB`,
);
process.exit(0);

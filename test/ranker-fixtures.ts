// A real ranker model trained on the tiny test world, once per world and trainer code version, and
// helpers to register copies of it (intact or damaged) in a test's own registry.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry, type VersionInfo } from '../libs/registry/index.js';
import { PROBE_FILE, RANKER_FILE, RANKER_MODEL, type RankerManifest } from '../libs/ranking/encoding.js';
import { trainRanker } from '../services/offline/trainer/train-ranker.js';
import { testWorld } from './fixtures/world.js';

const codeFiles = [
  ...['ranker.py', 'ranker_data.py', 'ranker_model.py', 'ranker_metrics.py'].map((f) => fileURLToPath(new URL(`../services/offline/trainer/${f}`, import.meta.url))),
  ...readdirSync(fileURLToPath(new URL('../libs/ranking', import.meta.url))).filter((f) => f.endsWith('.ts')).map((f) => fileURLToPath(new URL(`../libs/ranking/${f}`, import.meta.url))),
];

function codeHash(worldDir: string): string {
  const hash = createHash('sha1').update(basename(worldDir));
  for (const f of codeFiles.sort()) if (statSync(f).isFile()) hash.update(f).update(readFileSync(f));
  return hash.digest('hex').slice(0, 12);
}

export interface TrainedRanker {
  worldDir: string;
  /** The version folder (ranker.onnx, probe.json, manifest.json). */
  dir: string;
  manifest: RankerManifest;
}

let pending: Promise<TrainedRanker> | undefined;

/** A ranker trained (3 epochs) on the tiny world and validated; shared by the test files through a cache dir. */
export function trainedTinyRanker(): Promise<TrainedRanker> {
  pending ??= (async () => {
    const worldDir = await testWorld();
    const cache = join(tmpdir(), 'feedloom-test-rankers', codeHash(worldDir));
    if (!existsSync(join(cache, RANKER_MODEL))) {
      const aside = `${cache}.building-${process.pid}-${Date.now()}`;
      const result = await trainRanker({ worldDir, registryDir: aside, epochs: 3 });
      if (!result.validated) throw new Error(`the tiny test ranker did not validate: ${result.validationNote}`);
      try {
        renameSync(aside, cache);
      } catch {
        rmSync(aside, { recursive: true, force: true }); // another test worker won the race
      }
    }
    const info = await new ModelRegistry(cache).latest<RankerManifest>(RANKER_MODEL);
    if (!info) throw new Error(`no ranker in the test cache ${cache}`);
    return { worldDir, dir: info.dir, manifest: info.manifest };
  })();
  return pending;
}

/**
 * Registers a copy of a trained ranker as a new version of `model` in registry; damage(dir) may
 * change the files before they are hashed. Moved to `state` (default published).
 */
export async function registerRankerCopy(
  registry: ModelRegistry,
  from: TrainedRanker,
  options: { damage?: (dir: string) => Promise<void> | void; state?: 'published' | 'trained'; model?: string } = {},
): Promise<VersionInfo<RankerManifest>> {
  const model = options.model ?? RANKER_MODEL;
  const { model: _m, version: _v, createdAtMs: _c, artifacts: _a, ...fields } = from.manifest;
  const info = await registry.create<RankerManifest>(model, async (dir) => {
    await copyFile(join(from.dir, RANKER_FILE), join(dir, RANKER_FILE));
    await copyFile(join(from.dir, PROBE_FILE), join(dir, PROBE_FILE));
    await options.damage?.(dir);
    return fields;
  });
  await registry.setState(model, info.version, 'trained');
  if ((options.state ?? 'published') === 'trained') return (await registry.get(model, info.version)) as VersionInfo<RankerManifest>;
  await registry.setState(model, info.version, 'validated');
  return (await registry.setState(model, info.version, 'published')) as VersionInfo<RankerManifest>;
}

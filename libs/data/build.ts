// buildWorld: the one call behind `make up` and the test fixtures: a simulated world plus fresh
// snapshots. The simulation is skipped when the directory already holds that preset and seed.
import { runBatchJobs, type BatchJobResult } from './batch/run.js';
import { simulateWorld } from './simulator/index.js';
import type { PresetName } from './simulator/presets.js';
import { readWorldManifest, worldExists, type WorldManifest } from './world.js';

export interface BuildWorldOptions {
  preset: PresetName | string;
  seed: number;
  dir: string;
  log?: (line: string) => void;
}

export interface BuiltWorld {
  world: WorldManifest;
  /** False when an existing world with the same preset and seed was reused. */
  simulated: boolean;
  snapshots: BatchJobResult[];
}

export async function buildWorld(options: BuildWorldOptions): Promise<BuiltWorld> {
  const log = options.log ?? ((line: string) => console.log(line));
  let world = (await worldExists(options.dir)) ? await readWorldManifest(options.dir).catch(() => undefined) : undefined;
  const reusable = world?.source === 'simulator' && world.preset === options.preset && world.seed === options.seed;
  if (reusable) log(`reusing the '${options.preset}' world (seed ${options.seed}) in ${options.dir}`);
  else world = await simulateWorld({ preset: options.preset, seed: options.seed, dir: options.dir, log });
  const snapshots = await runBatchJobs({ worldDir: options.dir, log });
  return { world: world!, simulated: !reusable, snapshots };
}

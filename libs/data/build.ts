// buildWorld: the one call behind `make up` and the test fixtures: a world plus fresh snapshots.
// A configured simulated world is simulated once and reused; a world someone else made (imported,
// another preset, live events logged into it) is never replaced without --force, which moves it aside.
import { runBatchJobs, type BatchJobResult } from './batch/run.js';
import { simulateWorld } from './simulator/index.js';
import type { PresetName } from './simulator/presets.js';
import { readWorldManifest, type WorldManifest } from './world.js';
import { inspectWorldDir } from './world-dir.js';
import type { Novelty } from './simulator/model.js';

export interface BuildWorldOptions {
  preset: PresetName | string;
  seed: number;
  dir: string;
  log?: (line: string) => void;
  /** Serve the world already in dir, whatever made it; never simulate. */
  existing?: boolean;
  /** Replace whatever world dir holds with a new simulation (the old one is moved aside). */
  force?: boolean;
  /** Settings of the batch jobs (the mesh config's `batch`). */
  batchSettings?: Record<string, Record<string, unknown>>;
  /** New items that matter in a new simulation (simulator/model.ts). */
  novelty?: Novelty;
}

export interface BuiltWorld {
  world: WorldManifest;
  /** False when the world in dir was used as it is. */
  simulated: boolean;
  snapshots: BatchJobResult[];
}

export async function buildWorld(options: BuildWorldOptions): Promise<BuiltWorld> {
  const log = options.log ?? ((line: string) => console.log(line));
  let world: WorldManifest;
  let simulated = false;
  if (options.existing) {
    world = await readWorldManifest(options.dir).catch((err: Error) => {
      throw new Error(
        `${err.message}; make one with 'feedloom import --input FILE … --out ${options.dir}' or 'feedloom build-world --dir ${options.dir}'`,
      );
    });
    log(
      `serving the ${world.source === 'import' ? 'imported' : 'simulated'} world '${world.name}' in ${options.dir} as it is`,
    );
  } else {
    const { manifest } = await inspectWorldDir(options.dir);
    if (
      !options.force &&
      options.novelty === undefined &&
      manifest?.source === 'simulator' &&
      manifest.preset === options.preset &&
      manifest.seed === options.seed
    ) {
      log(`reusing the '${options.preset}' world (seed ${options.seed}) in ${options.dir}`);
      world = manifest;
    } else {
      world = await simulateWorld({
        preset: options.preset,
        seed: options.seed,
        dir: options.dir,
        log,
        force: options.force,
        novelty: options.novelty,
      });
      simulated = true;
    }
  }
  const snapshots = await runBatchJobs({ worldDir: options.dir, settings: options.batchSettings, log });
  return { world, simulated, snapshots };
}

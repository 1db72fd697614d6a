// simulateWorld builds a world directory from a preset and a seed; continueWorld adds days to one.
// A world is a pure function of (preset, seed, days): continuing replays the earlier days in
// memory (cheap next to writing them) and writes only the new ones, so a continued world is
// byte-for-byte the world that would have been simulated with the extra days from the start.
import fs from 'node:fs/promises';
import { claimWorldDir } from '../world-dir.js';
import { openDuck } from '../duck.js';
import {
  DAY_MS,
  DEFAULT_START_MS,
  dayKey,
  readWorldManifest,
  worldPaths,
  writeWorldManifest,
  type WorldManifest,
} from '../world.js';
import { simulateDay } from './day.js';
import { EventBuffer } from './event-buffer.js';
import { presetByName, type PresetName } from './presets.js';
import { SimState } from './state.js';
import type { Novelty } from './model.js';
import { SIMULATOR_VERSION, readTruthMeta, writeTruth } from './truth.js';
import { writeCatalog, writeDayEvents } from './writer.js';

export interface SimulateOptions {
  preset: PresetName | string;
  seed: number;
  dir: string;
  /** Defaults to the preset's day count. */
  days?: number;
  startMs?: number;
  name?: string;
  /** Progress lines; defaults to console.log. Pass () => {} for silence. */
  log?: (line: string) => void;
  /** Move a world already in dir aside instead of refusing. */
  force?: boolean;
  /** New items that matter (model.ts); off by default, so a preset and seed give the same world as ever. */
  novelty?: Novelty;
}

export async function simulateWorld(options: SimulateOptions): Promise<WorldManifest> {
  const preset = presetByName(options.preset);
  const days = options.days ?? preset.days;
  if (!Number.isInteger(days) || days < 1) throw new Error(`days must be a positive integer, got ${days}`);
  if (!Number.isInteger(options.seed)) throw new Error(`seed must be an integer, got ${options.seed}`);
  const { movedTo } = await claimWorldDir(options.dir, {
    force: options.force,
    forceHint: `--force (feedloom up --force, or feedloom build-world --force)`,
    otherwise: `serve it as it is with 'feedloom up --world ${options.dir}'`,
  });
  if (movedTo) (options.log ?? console.log)(`moved the world that was in ${options.dir} aside to ${movedTo}`);
  return run({
    dir: options.dir,
    presetName: options.preset as PresetName,
    seed: options.seed,
    startMs: options.startMs ?? DEFAULT_START_MS,
    days,
    firstNewDay: 0,
    name: options.name ?? `${options.preset}-${options.seed}`,
    novelty: checkNovelty(options.novelty),
    log: options.log ?? ((line) => console.log(line)),
  });
}

export async function continueWorld(
  dir: string,
  extraDays: number,
  options: { log?: (line: string) => void } = {},
): Promise<WorldManifest> {
  if (!Number.isInteger(extraDays) || extraDays < 1)
    throw new Error(`extraDays must be a positive integer, got ${extraDays}`);
  const manifest = await readWorldManifest(dir);
  if (manifest.source !== 'simulator' || manifest.preset === undefined || manifest.seed === undefined) {
    throw new Error(
      `world ${dir} was not made by the simulator (source '${manifest.source}'), so it cannot be continued`,
    );
  }
  const truth = await readTruthMeta(dir);
  if (truth.simulatorVersion !== SIMULATOR_VERSION) {
    throw new Error(
      `world ${dir} was made by simulator version ${truth.simulatorVersion}, this is version ${SIMULATOR_VERSION}: simulate it afresh instead`,
    );
  }
  return run({
    dir,
    presetName: manifest.preset as PresetName,
    seed: manifest.seed,
    startMs: manifest.startMs,
    days: manifest.days + extraDays,
    firstNewDay: manifest.days,
    name: manifest.name,
    novelty: truth.novelty,
    log: options.log ?? ((line) => console.log(line)),
  });
}

interface RunPlan {
  dir: string;
  presetName: PresetName;
  seed: number;
  startMs: number;
  days: number;
  /** Days before this one are already on disk and only replayed in memory. */
  firstNewDay: number;
  name: string;
  novelty?: Novelty;
  log: (line: string) => void;
}

function checkNovelty(n: Novelty | undefined): Novelty | undefined {
  if (n === undefined) return undefined;
  if (!Number.isFinite(n.boost) || n.boost < 0 || n.boost > 5)
    throw new Error(`novelty boost must be a number from 0 to 5 (a click-logit boost), got ${n.boost}`);
  if (!Number.isFinite(n.halfLifeDays) || n.halfLifeDays <= 0 || n.halfLifeDays > 365)
    throw new Error(`novelty half-life must be more than 0 and at most 365 days, got ${n.halfLifeDays}`);
  return n.boost === 0 ? undefined : n;
}

async function run(plan: RunPlan): Promise<WorldManifest> {
  const started = Date.now();
  const preset = presetByName(plan.presetName);
  const state = new SimState(plan.presetName, preset, plan.seed, plan.startMs, plan.days, plan.novelty);
  state.createInitialWorld();
  plan.log(
    `simulating '${plan.presetName}' world (seed ${plan.seed}, days ${plan.firstNewDay}..${plan.days - 1}) into ${plan.dir}: ` +
      `${state.userCount} users, ${state.itemCount} items, ${state.creatorCount} creators at the start`,
  );

  const paths = worldPaths(plan.dir);
  await fs.mkdir(paths.events, { recursive: true });
  const duck = await openDuck();
  try {
    const events = new EventBuffer();
    let lastLog = Date.now();
    for (let day = 0; day < plan.days; day++) {
      events.clear();
      simulateDay(state, day, events);
      if (day < plan.firstNewDay) continue;
      await writeDayEvents(duck.conn, paths.eventDay(dayKey(plan.startMs + day * DAY_MS)), day, events);
      if (Date.now() - lastLog > 5000 || day === plan.days - 1) {
        plan.log(
          `  day ${day + 1}/${plan.days}: ${events.length} events (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        );
        lastLog = Date.now();
      }
    }
    await writeCatalog(duck.conn, plan.dir, state);
  } finally {
    duck.close();
  }
  await writeTruth(plan.dir, state);

  const manifest: WorldManifest = {
    name: plan.name,
    source: 'simulator',
    preset: plan.presetName,
    seed: plan.seed,
    startMs: plan.startMs,
    days: plan.days,
    counts: {
      users: state.userCount,
      items: state.itemCount,
      creators: state.creatorCount,
      boards: state.boardOwner.length,
      events: state.eventsPerDay.reduce((a, b) => a + b, 0),
    },
    features: { creators: true, boards: true, topics: true, locales: true },
    hasTruth: true,
    createdAt: new Date().toISOString(),
  };
  // world.json last: a world without it is incomplete and gets simulated again.
  await writeWorldManifest(plan.dir, manifest);
  plan.log(
    `world ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${manifest.counts.users} users, ${manifest.counts.items} items, ` +
      `${manifest.counts.boards} boards, ${manifest.counts.events} events`,
  );
  return manifest;
}

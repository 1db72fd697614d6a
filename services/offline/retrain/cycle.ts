// One retraining cycle (`feedloom retrain`): take the newest window of the event log, train the
// two-tower model and the ranker on it, measure each new version next to the version now serving
// on the held-out newest days, and publish it when every gate passes, or reject it with the
// reasons in its state history. The cycle's metrics go to <registry>/cycles/<id>.json. A lock file
// keeps two cycles on one registry from running at once; with `rollout`, published versions are
// handed to the staged rollout the caller passes (`feedloom retrain --rollout`: services/ops/rollout).
import fs from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { TWO_TOWER_MODEL, type TwoTowerManifest } from '../../../libs/features/two-tower.js';
import { OnnxSessionPool } from '../../../libs/onnx/pool.js';
import { RANKER_FILE, RANKER_MODEL, type RankerManifest } from '../../../libs/ranking/encoding.js';
import { heldoutMetrics, readValRequests, scoreHeldout, type HeldoutMetrics } from '../../../libs/ranking/heldout.js';
import { cycleId, writeCycleReport, type CycleModelResult, type CycleReport } from '../../../libs/registry/cycles.js';
import { acquireProcessLock } from '../../../libs/registry/fs-atomic.js';
import {
  ModelRegistry,
  verifyArtifacts,
  type BaseManifest,
  type ModelState,
  type VersionInfo,
} from '../../../libs/registry/index.js';
import { evaluateTwoTower, heldOutSet, type RetrievalMetrics } from '../../../libs/training/evaluate.js';
import { trainTwoTower } from '../../../libs/training/train-two-tower.js';
import { trainRanker } from '../trainer/train-ranker.js';
import { rankerGates, rankerRecord, retrievalRecord, twoTowerGates, type GateVerdict } from './gates.js';
import { cycleWindow, windowWorld, type CycleWindow } from './window.js';

export type RetrainModel = 'two_tower' | 'ranker';

export interface CycleOptions {
  /** The mesh config: world, registry, the `retrain` section, the ranker's model name; and, for rollout, the services. */
  mesh: MeshConfig;
  /** Overrides of mesh.world.dir and the registry root. */
  worldDir?: string;
  registryDir?: string;
  /** Overrides of retrain.models. */
  models?: RetrainModel[];
  /** Overrides of retrain.twoTower / retrain.ranker trainer flags (e.g. ['--lr', '1000']). */
  twoTowerTrainerArgs?: string[];
  rankerTrainerArgs?: string[];
  /**
   * Hand each published version to the staged rollout, after all training (the operator's tool:
   * `feedloom retrain --rollout` passes services/ops/rollout/retrain-hand-off.ts rolloutPublished).
   */
  rollout?: (handOff: HandOff) => Promise<HandOffResult>;
  /** Train even when the newest version of a model already saw every day of the window. */
  force?: boolean;
  /** Who runs the cycle, named in its lock file (e.g. "scheduler"), so a stuck lock says whose it is. */
  runBy?: string;
  /** Keep the datasets here (default: a temp folder, removed). */
  workDir?: string;
  log?: (line: string) => void;
}

/** A published version, handed to the staged rollout. */
export interface HandOff {
  mesh: MeshConfig;
  registryDir: string;
  worldDir: string;
  model: string;
  version: string;
  log: (line: string) => void;
}

/** How the hand-off went: a failed rollout is { ok: false, detail }, never a throw. */
export interface HandOffResult {
  ok: boolean;
  detail: string;
}

export interface CycleResult {
  report: CycleReport;
  reportFile: string;
}

export const CYCLE_LOCK_FILE = 'retrain.lock';
const JUDGED_STATES: ModelState[] = ['validated', 'rejected', 'published', 'serving', 'retired', 'rolled_back'];

/** Runs one cycle; throws LockHeldError (before doing anything) when another cycle holds the lock. */
export async function runCycle(options: CycleOptions): Promise<CycleResult> {
  const { mesh } = options;
  const worldDir = path.resolve(options.worldDir ?? mesh.world.dir);
  const registryDir = path.resolve(options.registryDir ?? registryDirOf(mesh));
  const release = await acquireProcessLock(
    path.join(registryDir, CYCLE_LOCK_FILE),
    `a retraining cycle on ${registryDir}${options.runBy ? ` (${options.runBy})` : ''}`,
  );
  try {
    return await cycleUnderLock(options, worldDir, registryDir);
  } finally {
    await release();
  }
}

async function cycleUnderLock(options: CycleOptions, worldDir: string, registryDir: string): Promise<CycleResult> {
  const { mesh } = options;
  const settings = mesh.retrain;
  const log = options.log ?? (() => {});
  const startedAtMs = Date.now();
  const id = cycleId(startedAtMs);
  const work = options.workDir
    ? path.resolve(options.workDir)
    : await fs.mkdtemp(path.join(tmpdir(), 'feedloom-retrain-'));
  const report: CycleReport = {
    id,
    startedAtMs,
    finishedAtMs: 0,
    durationMs: 0,
    world: worldDir,
    window: {
      trainStartMs: 0,
      heldoutStartMs: 0,
      endMs: 0,
      windowDays: settings.windowDays,
      heldoutDays: settings.heldoutDays,
    },
    gates: { ...settings.gates },
    models: [],
    host: hostname(),
    pid: process.pid,
  };
  try {
    const window = cycleWindow(await readWorldManifest(worldDir), settings.windowDays, settings.heldoutDays);
    report.window = window;
    const trainWorld = await windowWorld(worldDir, window, path.join(work, 'window-world'));
    log(
      `cycle ${id}: training on ${day(window.trainStartMs)}..${day(window.heldoutStartMs - DAY_MS)}, validating on ${day(window.heldoutStartMs)}..${day(window.endMs - DAY_MS)}`,
    );
    const ctx: ModelContext = {
      options,
      registry: new ModelRegistry(registryDir),
      worldDir,
      trainWorld,
      window,
      work,
      id,
      log,
    };
    for (const model of options.models ?? settings.models) {
      const name = model === 'two_tower' ? TWO_TOWER_MODEL : (mesh.services.ranker?.model ?? RANKER_MODEL);
      const upToDate = options.force ? undefined : await alreadyTrained(ctx.registry, name, window.endMs);
      const result = upToDate
        ? {
            model: name,
            outcome: 'skipped' as const,
            reasons: [],
            notes: [upToDate],
            checks: [],
            metrics: {},
            timings: {},
          }
        : model === 'two_tower'
          ? await retrainTwoTower(ctx)
          : await retrainRanker(ctx);
      report.models.push(result);
      log(
        `cycle ${id}: ${result.model} ${result.version ?? '-'} ${result.outcome}${result.reasons.length ? `: ${result.reasons.join('; ')}` : ''}${result.error ? `: ${result.error}` : ''}`,
      );
    }
    // Rollouts after all training: the trainers' CPU load stays out of the canary's guards.
    if (options.rollout) {
      for (const r of report.models) {
        if (r.outcome !== 'published' || !r.version) continue;
        r.rollout = await options.rollout({ mesh, registryDir, worldDir, model: r.model, version: r.version, log });
        log(`cycle ${id}: rollout of ${r.model} ${r.version}: ${r.rollout.detail}`);
      }
    }
  } catch (err) {
    report.error = (err as Error).message;
    log(`cycle ${id} failed: ${report.error}`);
  } finally {
    report.finishedAtMs = Date.now();
    report.durationMs = report.finishedAtMs - startedAtMs;
    if (!options.workDir) await fs.rm(work, { recursive: true, force: true });
  }
  return { report, reportFile: await writeCycleReport(registryDir, report) };
}

interface ModelContext {
  options: CycleOptions;
  registry: ModelRegistry;
  worldDir: string;
  /** The world the trainers read (a window view when the log is longer than the window). */
  trainWorld: string;
  window: CycleWindow;
  work: string;
  id: string;
  log: (line: string) => void;
}

/**
 * Why a model needs no new version: its newest judged version (validated or rejected, and whatever
 * came after) was already trained on data up to the window's end, so a run now would see nothing
 * new. Undefined otherwise. Versions left `trained` (by hand, or by an interrupted cycle) do not count.
 */
async function alreadyTrained(registry: ModelRegistry, model: string, endMs: number): Promise<string | undefined> {
  const newest = await registry.latest(model, JUDGED_STATES).catch(() => undefined);
  const window = (newest?.manifest.validationWindow ?? newest?.manifest.dataWindow) as { endMs?: number } | undefined;
  if (!newest || window?.endMs === undefined || window.endMs < endMs) return undefined;
  return `no new data: ${model} ${newest.version} (${newest.state}) was already trained on the log up to ${new Date(window.endMs).toISOString()} (--force trains anyway)`;
}

/** The version a new one must beat: the one serving, else the newest published. */
export async function incumbentOf<M extends VersionInfo['manifest']>(
  registry: ModelRegistry,
  model: string,
): Promise<VersionInfo<M> | undefined> {
  return (await registry.latest<M>(model, ['serving'])) ?? (await registry.latest<M>(model, ['published']));
}

/** A model's result, failed until a step says otherwise, with the version it must beat. */
async function startModelResult<M extends BaseManifest>(
  registry: ModelRegistry,
  model: string,
): Promise<{ result: CycleModelResult; incumbent: VersionInfo<M> | undefined }> {
  const incumbent = await incumbentOf<M>(registry, model).catch(() => undefined);
  const result: CycleModelResult = {
    model,
    outcome: 'failed',
    reasons: [],
    notes: [],
    checks: [],
    metrics: {},
    timings: {},
    incumbent: incumbent?.version,
  };
  return { result, incumbent };
}

async function retrainTwoTower(ctx: ModelContext): Promise<CycleModelResult> {
  const { registry, window, options } = ctx;
  const settings = options.mesh.retrain;
  const model = TWO_TOWER_MODEL;
  const { result, incumbent } = await startModelResult<TwoTowerManifest>(registry, model);
  let trained: VersionInfo<TwoTowerManifest>;
  try {
    const run = await trainTwoTower({
      worldDir: ctx.trainWorld,
      registryRoot: registry.root,
      model,
      asOfMs: window.endMs,
      holdoutMs: window.heldoutDays * DAY_MS,
      epochs: settings.twoTower.epochs,
      seed: settings.twoTower.seed,
      userTower: settings.twoTower.userTower,
      ensemble: settings.twoTower.ensemble,
      trainerArgs: options.twoTowerTrainerArgs ?? settings.twoTower.trainerArgs,
      log: ctx.log,
    });
    trained = run.info;
    result.version = trained.version;
    result.timings = {
      datasetMs: Math.round(run.timings.datasetMs),
      trainMs: Math.round(run.timings.trainMs),
      verifyMs: Math.round(run.timings.verifyMs),
    };
  } catch (err) {
    // Nothing was registered (a failed run leaves no version), so nothing changes in serving.
    result.error = `training failed: ${(err as Error).message}`;
    return result;
  }
  return judge(
    ctx,
    result,
    trained,
    async () => {
      const t0 = performance.now();
      const set = await heldOutSet(ctx.worldDir, window.heldoutStartMs, window.endMs);
      const ks = [...new Set([settings.gates.k, 100, 500])].sort((a, b) => a - b);
      const candidate = await evaluateTwoTower(trained, set, ks);
      let served: RetrievalMetrics | undefined;
      if (incumbent) {
        try {
          await verifyArtifacts(incumbent);
          served = await evaluateTwoTower(incumbent, set, ks);
        } catch (err) {
          result.notes.push(
            `the serving version ${incumbent.version} could not be measured (${(err as Error).message}): compared with the floors only`,
          );
        }
      }
      result.metrics = {
        candidate: retrievalRecord(candidate),
        ...(served ? { incumbent: retrievalRecord(served) } : {}),
      };
      result.timings.validateMs = Math.round(performance.now() - t0);
      return twoTowerGates(candidate, served, settings.gates);
    },
    incumbent,
  );
}

async function retrainRanker(ctx: ModelContext): Promise<CycleModelResult> {
  const { registry, window, options } = ctx;
  const settings = options.mesh.retrain;
  const model = options.mesh.services.ranker?.model ?? RANKER_MODEL;
  const { result, incumbent } = await startModelResult<RankerManifest>(registry, model);
  const workDir = path.join(ctx.work, 'ranker');
  let run: Awaited<ReturnType<typeof trainRanker>>;
  try {
    run = await trainRanker({
      worldDir: ctx.trainWorld,
      registryDir: registry.root,
      model,
      endMs: window.endMs,
      holdoutDays: window.heldoutDays,
      epochs: settings.ranker.epochs,
      seed: settings.ranker.seed,
      trainerArgs: options.rankerTrainerArgs ?? settings.ranker.trainerArgs,
      workDir,
      leaveTrained: true,
      // On an imported log: the blender's candidates replayed on the window's world.
      mesh: { ...options.mesh, world: { ...options.mesh.world, dir: ctx.trainWorld, existing: true } },
      log: ctx.log,
    });
    result.version = run.info.version;
    result.timings = { datasetMs: Math.round(run.timings.datasetMs), trainMs: Math.round(run.timings.trainMs) };
  } catch (err) {
    result.error = `training failed: ${(err as Error).message}`;
    return result;
  }
  return judge(
    ctx,
    result,
    run.info,
    async () => {
      const t0 = performance.now();
      let served: HeldoutMetrics | undefined;
      if (incumbent) {
        try {
          served = await scoreRanker(incumbent, path.join(workDir, 'dataset'));
        } catch (err) {
          result.notes.push(
            `the serving version ${incumbent.version} could not be measured (${(err as Error).message}): compared with the floors only`,
          );
        }
      }
      result.metrics = { candidate: rankerRecord(run.heldout), ...(served ? { incumbent: rankerRecord(served) } : {}) };
      result.timings.validateMs = Math.round(performance.now() - t0);
      return rankerGates(run.heldout, served, settings.gates, { validated: run.validated, note: run.validationNote });
    },
    incumbent,
  );
}

/** A registered ranker version's held-out metrics on a dataset's held-out sessions, through its own encoding. */
async function scoreRanker(info: VersionInfo<RankerManifest>, datasetDir: string): Promise<HeldoutMetrics> {
  await verifyArtifacts(info);
  const pool = await OnnxSessionPool.open(path.join(info.dir, RANKER_FILE), {
    workers: 2,
    name: `ranker ${info.version}`,
  });
  try {
    return heldoutMetrics(await scoreHeldout(pool, info.manifest.encoding, await readValRequests(datasetDir)));
  } finally {
    await pool.close();
  }
}

/** Runs the gates on a trained version and moves it to validated → published, or rejected with the reasons. */
async function judge(
  ctx: ModelContext,
  result: CycleModelResult,
  trained: VersionInfo,
  measure: () => Promise<GateVerdict>,
  incumbent: VersionInfo | undefined,
): Promise<CycleModelResult> {
  const { registry, id } = ctx;
  const { model, version } = trained;
  const seen = incumbent?.manifest.dataWindow as { endMs?: number } | undefined;
  if (seen?.endMs !== undefined && seen.endMs > ctx.window.heldoutStartMs) {
    result.notes.push(
      `the serving version ${incumbent!.version} was trained on data up to ${new Date(seen.endMs).toISOString()}, inside the held-out days, so its metrics are optimistic`,
    );
  }
  let verdict: GateVerdict;
  try {
    verdict = await measure();
  } catch (err) {
    result.error = `validation failed: ${(err as Error).message}`;
    result.reasons = [result.error];
    await registry.setState(model, version, 'rejected', `cycle ${id}: ${result.error}`);
    result.outcome = 'rejected';
    return result;
  }
  result.checks = verdict.checks;
  if (verdict.passed) {
    const summary = verdict.checks.map((c) => c.detail).join('; ');
    await registry.setState(model, version, 'validated', `cycle ${id}: ${summary}`);
    await registry.setState(
      model,
      version,
      'published',
      `cycle ${id}: passed every gate${result.incumbent ? ` against ${result.incumbent}` : ''}`,
    );
    result.outcome = 'published';
  } else {
    result.reasons = verdict.reasons;
    await registry.setState(model, version, 'rejected', `cycle ${id}: ${verdict.reasons.join('; ')}`);
    result.outcome = 'rejected';
  }
  return result;
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

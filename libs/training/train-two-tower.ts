// One two-tower training run: dataset from the event log → PyTorch trainer → ONNX checked in
// onnxruntime-node → a new registry version (state `trained`) whose manifest carries the encoding,
// the data window and the offline metrics. Used by `feedloom train two-tower` and the retrainer.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DEFAULT_TWO_TOWER_ENSEMBLE,
  DEFAULT_USER_TOWER,
  type EnsembleByWorld,
  type UserTowerByWorld,
} from '../config/mesh.js';
import { readWorldManifest } from '../data/world.js';
import {
  itemInputNames,
  ITEM_OUTPUT,
  TWO_TOWER_MODEL,
  USER_INPUTS,
  USER_OUTPUT,
  type TwoTowerManifest,
  type UserTowerKind,
} from '../features/two-tower.js';
import { ModelRegistry, type VersionInfo } from '../registry/registry.js';
import { runPython, trainerScript } from '../python/python.js';
import { buildTwoTowerDataset, type TwoTowerDatasetOptions } from './two-tower-dataset.js';
import { verifyTwoTowerOnnx, type OnnxCheck } from './verify-onnx.js';

export interface TrainTwoTowerOptions {
  worldDir: string;
  registryRoot: string;
  /** Registry model name (default two_tower). */
  model?: string;
  seed?: number;
  epochs?: number;
  /** End of the data window (default: the end of the world's data). */
  asOfMs?: number;
  /** Held out for validation at the end of the window (default one day). */
  holdoutMs?: number;
  dim?: number;
  batch?: number;
  /**
   * The user tower, or one per kind of world (the mesh config's retrain.twoTower.userTower);
   * default DEFAULT_USER_TOWER for the world's kind.
   */
  userTower?: UserTowerKind | UserTowerByWorld;
  /**
   * Models trained with seeds seed, seed + 1, … and served as one (their embeddings side by side:
   * dimension ensemble × dim), or one count per kind of world (the mesh config's
   * retrain.twoTower.ensemble); default DEFAULT_TWO_TOWER_ENSEMBLE for the world's kind.
   */
  ensemble?: number | EnsembleByWorld;
  /** More trainer flags, e.g. ['--temperature', '0.1'] (see two_tower.py --help). */
  trainerArgs?: string[];
  /** Dataset builder settings beyond the window. */
  dataset?: Omit<TwoTowerDatasetOptions, 'worldDir' | 'outDir' | 'asOfMs' | 'holdoutMs' | 'log'>;
  /** Keep the dataset and trainer report here instead of deleting them. */
  workDir?: string;
  python?: string;
  log?: (line: string) => void;
}

export interface TrainTwoTowerResult {
  info: VersionInfo<TwoTowerManifest>;
  check: OnnxCheck;
  timings: { datasetMs: number; trainMs: number; verifyMs: number; totalMs: number };
}

interface TrainerReport {
  dim: number;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
  check: { users_from: 'val' | 'train'; users: number; items: number };
}

export async function trainTwoTower(options: TrainTwoTowerOptions): Promise<TrainTwoTowerResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const workDir = options.workDir ?? (await fs.mkdtemp(path.join(tmpdir(), 'feedloom-two-tower-')));
  const datasetDir = path.join(workDir, 'dataset');
  const reportFile = path.join(workDir, 'trainer-report.json');
  try {
    const userTower = await userTowerFor(options.worldDir, options.userTower);
    const ensemble =
      typeof options.ensemble === 'number'
        ? options.ensemble
        : (options.ensemble ?? DEFAULT_TWO_TOWER_ENSEMBLE)[(await readWorldManifest(options.worldDir)).source];
    const dataset = await buildTwoTowerDataset({
      ...options.dataset,
      worldDir: options.worldDir,
      outDir: datasetDir,
      asOfMs: options.asOfMs,
      holdoutMs: options.holdoutMs,
      log,
    });
    const datasetMs = performance.now() - started;
    let trainMs = 0;
    let verifyMs = 0;
    let check!: OnnxCheck;
    const registry = new ModelRegistry(options.registryRoot);
    const seed = options.seed ?? 7;
    const created = await registry.create<TwoTowerManifest>(
      options.model ?? TWO_TOWER_MODEL,
      async (tmpDir) => {
        const t0 = performance.now();
        const args = ['--data', datasetDir, '--out', tmpDir, '--report', reportFile, '--seed', String(seed)];
        args.push('--user-tower', userTower);
        if (ensemble !== 1) args.push('--ensemble', String(ensemble));
        if (options.epochs !== undefined) args.push('--epochs', String(options.epochs));
        if (options.dim !== undefined) args.push('--dim', String(options.dim));
        if (options.batch !== undefined) args.push('--batch', String(options.batch));
        await runPython(trainerScript('two_tower.py'), [...args, ...(options.trainerArgs ?? [])], {
          python: options.python,
          log,
        });
        trainMs = performance.now() - t0;
        const report = JSON.parse(await fs.readFile(reportFile, 'utf8')) as TrainerReport;
        const t1 = performance.now();
        check = await verifyTwoTowerOnnx(tmpDir, datasetDir, dataset.manifest, {
          usersFrom: report.check.users_from,
          users: report.check.users,
          items: report.check.items,
          dim: report.dim,
          checkDir: workDir,
        });
        verifyMs = performance.now() - t1;
        const m = dataset.manifest;
        const manifest: Omit<TwoTowerManifest, 'model' | 'version' | 'createdAtMs' | 'artifacts'> = {
          kind: 'two_tower',
          dim: report.dim,
          // What the trainer ran (trainer args given by the caller may have overridden the choice).
          userTower: report.training.user_tower as UserTowerKind,
          dataWindow: m.dataWindow,
          ...(m.validationWindow ? { validationWindow: m.validationWindow } : {}),
          vocab: m.encoding.vocab,
          inputs: m.encoding.inputs,
          buckets: m.encoding.buckets,
          weighting: m.encoding.weighting,
          onnx: {
            opset: 17,
            userInputs: [...USER_INPUTS],
            itemInputs: itemInputNames(m.encoding),
            userOutput: USER_OUTPUT,
            itemOutput: ITEM_OUTPUT,
          },
          metrics: report.metrics,
          training: {
            ...report.training,
            world: m.world,
            asOfMs: m.asOfMs,
            dataset: m.counts,
            datasetMs: Math.round(datasetMs),
            onnxCheck: check,
          },
        };
        return manifest;
      },
      {
        note: `${userTower} user tower${ensemble > 1 ? ` × ${ensemble} seeds` : ''}, trained on ${dataset.manifest.counts.train} engagements before ${new Date(dataset.manifest.trainEndMs).toISOString()}, seed ${seed}`,
      },
    );
    const r = created.manifest.metrics;
    const note =
      `onnx verified (max |onnx − torch| ${Math.max(check.maxAbsDiffUser, check.maxAbsDiffItem).toExponential(1)})` +
      (r['val_recall@100'] !== undefined
        ? `; val recall@100 ${r['val_recall@100'].toFixed(3)}, @500 ${r['val_recall@500'].toFixed(3)}`
        : '');
    const info = (await registry.setState(
      created.model,
      created.version,
      'trained',
      note,
    )) as VersionInfo<TwoTowerManifest>;
    return { info, check, timings: { datasetMs, trainMs, verifyMs, totalMs: performance.now() - started } };
  } finally {
    if (!options.workDir) await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The user tower to train on worldDir: the one given, or the one for the world's kind. */
export async function userTowerFor(
  worldDir: string,
  choice: TrainTwoTowerOptions['userTower'],
): Promise<UserTowerKind> {
  if (typeof choice === 'string') return choice;
  return (choice ?? DEFAULT_USER_TOWER)[(await readWorldManifest(worldDir)).source];
}

// The ranker's training and evaluation (`feedloom train-ranker`, `feedloom eval-ranker`; also run by
// the retraining cycle and by prepareWorld): build the ranker's training data from the event log,
// train the transformer ranker (ranker.py beside this file), check the exported ONNX model the way
// the Ranker service will, evaluate it on the held-out last day through the serving encoder, and
// register it (trainRanker) or compare it with its ablation and baselines (evalRanker).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OnnxSessionPool } from '../../../libs/onnx/pool.js';
import { readWorldManifest } from '../../../libs/data/world.js';
import { ModelRegistry, type VersionInfo } from '../../../libs/registry/index.js';
import {
  buildRankerDataset,
  type CandidateReplay,
  type RankerBaseline,
  type RankerDataset,
} from '../../../libs/ranking/dataset.js';
import {
  HEADS,
  RANKER_FILE,
  RANKER_KIND,
  RANKER_MODEL,
  type RankerEncoding,
  type RankerManifest,
  type UtilityWeights,
} from '../../../libs/ranking/encoding.js';
import {
  baselineSessions,
  heldoutMetrics,
  readValRequests,
  scoreHeldout,
  type HeldoutMetrics,
  type HeldoutSourceOptions,
} from '../../../libs/ranking/heldout.js';
import { DEFAULT_UTILITY_WEIGHTS, type MeshConfig } from '../../../libs/config/mesh.js';
import { preScoreSessions, replayProposals } from './prescore-replay.js';
import { replayCandidates } from './candidate-replay.js';
import { runPython, trainerScript } from '../../../libs/python/python.js';
import { checkEncoding, checkProbe, checkServingProbe, checkSignature } from '../../ranker/model-checks.js';

export type RankerVariant = 'sequence' | 'no_sequence' | 'early_fusion';
export const RANKER_VARIANTS: readonly RankerVariant[] = ['sequence', 'no_sequence', 'early_fusion'];

export interface TrainRankerOptions {
  worldDir: string;
  registryDir: string;
  /** Registry model name (default "ranker", the mesh config's services.ranker.model). */
  model?: string;
  variant?: RankerVariant;
  epochs?: number;
  seed?: number;
  /** End of the data window (default: the end of the world's data); the last holdoutDays are held out. */
  endMs?: number;
  holdoutDays?: number;
  /** Publish the version when it passes validation, so rankers pick it up (default true). */
  publish?: boolean;
  /** Leave the version in state trained: the caller validates it (the retraining cycle's gates). */
  leaveTrained?: boolean;
  /** Extra trainer flags, e.g. ['--d', '64']. */
  trainerArgs?: string[];
  /** Keep the dataset and the trainer's report here (default: a temp folder, removed). */
  workDir?: string;
  /** A dataset already built for this world and window. */
  dataset?: RankerDataset;
  /** The blender's candidates already replayed on this imported world (else replayed here, with the mesh). */
  replayed?: CandidateReplay;
  /**
   * The mesh (its world.dir is worldDir): on a log without an impression log, the examples are the
   * candidates its blender would have sent the ranker, replayed at past times (candidate-replay.ts);
   * without it, interactions plus sampled negatives.
   */
  mesh?: MeshConfig;
  log?: (line: string) => void;
}

export interface TrainRankerResult {
  info: VersionInfo<RankerManifest>;
  /** Held-out metrics of the registered ONNX model, scored through the serving encoder. */
  heldout: HeldoutMetrics;
  /** prescore: on replayed candidates only (their pre-score order). */
  baselines: { position: HeldoutMetrics; popularity: HeldoutMetrics; prescore?: HeldoutMetrics };
  validated: boolean;
  validationNote: string;
  timings: { datasetMs: number; trainMs: number; totalMs: number };
}

export interface TrainerReport {
  variant: string;
  /** Metrics the held-out data cannot give (e.g. auc_hide on a log without hides) are not keys here. */
  metrics: Record<string, number>;
  onnx: { opset: number; file: string; inputs: string[]; outputs: string[] };
  training: Record<string, unknown>;
}

/**
 * Trains one ranker version and registers it: training → trained, then validated (it beats the
 * baseline order — the incumbent's pages, or popularity on a log without an impression log — on
 * held-out click and save AUC, whichever exist, and its ONNX graph reproduces PyTorch) or rejected;
 * a validated version is published unless publish is false.
 */
export async function trainRanker(options: TrainRankerOptions): Promise<TrainRankerResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const model = options.model ?? RANKER_MODEL;
  const work = options.workDir ? resolve(options.workDir) : await mkdtemp(join(tmpdir(), 'feedloom-ranker-'));
  try {
    const dataset = options.dataset ?? (await buildDataset(options, join(work, 'dataset'), log));
    const datasetMs = performance.now() - started;
    const registry = new ModelRegistry(options.registryDir);
    const reportPath = join(work, `report-${Date.now()}.json`);
    let report: TrainerReport | undefined;
    let heldout: HeldoutMetrics | undefined;
    const trainStarted = performance.now();
    const created = await registry.create<RankerManifest>(
      model,
      async (dir) => {
        await runPython(trainerScript('ranker.py'), trainerArgs(dataset, dir, reportPath, options), { log });
        report = JSON.parse(await readFile(reportPath, 'utf8')) as TrainerReport;
        const manifest = manifestFields(dataset, report);
        heldout = await checkAndScore(dir, manifest.encoding, dataset.dir, {
          utility: options.mesh?.services.ranker?.weights ?? DEFAULT_UTILITY_WEIGHTS,
        });
        return { ...manifest, metrics: { ...report.metrics, ...prefixed('onnx_', heldout!) } };
      },
      { note: `${options.variant ?? 'sequence'} ranker on ${options.worldDir}` },
    );
    const trainMs = performance.now() - trainStarted;
    const val = await readValRequests(dataset.dir);
    // The order to beat: the incumbent's pages on a logged impression log; on an imported one, the
    // blender's pre-score order of the replayed candidates, or popularity against sampled negatives.
    const baseline = dataset.manifest.labels?.baseline ?? 'position';
    const baselines = {
      position: heldoutMetrics(baselineSessions(val, 'position')),
      popularity: heldoutMetrics(baselineSessions(val, 'popularity')),
      ...(baseline === 'prescore' && { prescore: heldoutMetrics(baselineSessions(val, 'prescore')) }),
    };
    const { validated, note } = validation(heldout!, baseline, baselines[baseline]!, report!);
    let info = (await registry.setState(
      model,
      created.version,
      'trained',
      `trained in ${(trainMs / 1000).toFixed(1)} s`,
    )) as VersionInfo<RankerManifest>;
    if (!options.leaveTrained)
      info = (await registry.setState(
        model,
        created.version,
        validated ? 'validated' : 'rejected',
        note,
      )) as VersionInfo<RankerManifest>;
    if (!options.leaveTrained && validated && options.publish !== false)
      info = (await registry.setState(
        model,
        created.version,
        'published',
        'published by train-ranker',
      )) as VersionInfo<RankerManifest>;
    log(`${model} ${info.version}: ${info.state} (${note})`);
    return {
      info,
      heldout: heldout!,
      baselines,
      validated,
      validationNote: note,
      timings: { datasetMs, trainMs, totalMs: performance.now() - started },
    };
  } finally {
    if (!options.workDir) await rm(work, { recursive: true, force: true });
  }
}

/**
 * The ranker's training data for the world: its logged impressions, or on an imported log (no
 * impression log) with a mesh, the blender's candidates replayed for each user (candidate-replay.ts).
 */
async function buildDataset(
  options: Pick<TrainRankerOptions, 'worldDir' | 'endMs' | 'holdoutDays' | 'mesh' | 'replayed'>,
  outDir: string,
  log: (line: string) => void,
): Promise<RankerDataset> {
  const imported = (await readWorldManifest(options.worldDir)).source === 'import';
  const replayed =
    options.replayed ??
    (imported && options.mesh ? await replayCandidates(options.mesh, options.worldDir, { log }) : undefined);
  return buildRankerDataset({
    worldDir: options.worldDir,
    outDir,
    endMs: options.endMs,
    holdoutDays: options.holdoutDays,
    ...(replayed && { replayed }),
    log,
  });
}

/**
 * Trainer settings for replayed candidates: one request per user of ~200 candidates, so a few
 * requests per step and at least 600 steps (on a small log, many epochs); each (generator, rank)
 * pair its own embedding, summed over every proposal (the model must read which generator ranked
 * the item where, as pre-score does), and beside them, per generator, whether it proposed the item
 * and its reciprocal rank (a learned rank fusion), and the candidate's place in the request (the
 * blender sends its top N in pre-score order: the model starts from that order; docs/RELEVANCE.md,
 * "The served page against EASE"); item ids dropped more often (one request per user: ids memorize fast).
 */
const REPLAYED_TRAINER_ARGS = [
  '--batch',
  '8',
  '--min-steps',
  '600',
  '--source-pairs',
  '--source-ranks',
  '--prescore-place',
  '--item-dropout',
  '0.5',
];
const REPLAYED_EPOCHS = 5;

function trainerArgs(
  dataset: RankerDataset,
  outDir: string,
  reportPath: string,
  options: { variant?: RankerVariant; epochs?: number; seed?: number; trainerArgs?: string[] },
): string[] {
  const replayed = dataset.manifest.labels?.kind === 'replayed_candidates';
  return [
    '--data',
    dataset.dir,
    '--out',
    outDir,
    '--report',
    reportPath,
    '--variant',
    options.variant ?? 'sequence',
    '--epochs',
    String(options.epochs ?? (replayed ? REPLAYED_EPOCHS : 4)),
    '--seed',
    String(options.seed ?? 7),
    ...(replayed ? REPLAYED_TRAINER_ARGS : []),
    ...(options.trainerArgs ?? []),
  ];
}

function manifestFields(
  dataset: RankerDataset,
  report: TrainerReport,
): Pick<
  RankerManifest,
  'kind' | 'variant' | 'encoding' | 'onnx' | 'heads' | 'dataWindow' | 'validationWindow' | 'metrics' | 'training'
> {
  return {
    kind: RANKER_KIND,
    variant: report.variant,
    encoding: dataset.manifest.encoding,
    onnx: report.onnx,
    heads: [...HEADS],
    dataWindow: dataset.manifest.dataWindow,
    validationWindow: dataset.manifest.validationWindow,
    metrics: report.metrics,
    training: { ...report.training, dataset: dataset.manifest.counts, labels: dataset.manifest.labels },
  };
}

/** The checks the Ranker service runs on load, then the held-out metrics of the exported model through the serving encoder. */
async function checkAndScore(
  dir: string,
  encoding: RankerEncoding,
  datasetDir: string,
  options: {
    alsoHiddenSlot?: boolean;
    alsoSources?: HeldoutSourceOptions['sources'];
    /** The served utility's weights: adds recall20_utility, the served order's recall@20. */
    utility?: UtilityWeights;
  } = {},
): Promise<HeldoutMetrics & { hiddenSlot?: HeldoutMetrics; withSources?: HeldoutMetrics }> {
  checkEncoding(encoding);
  const pool = await OnnxSessionPool.open(join(dir, RANKER_FILE), { workers: 2, name: `ranker candidate in ${dir}` });
  try {
    checkSignature(pool);
    await checkProbe(pool, dir);
    await checkServingProbe(pool, encoding);
    const val = await readValRequests(datasetDir);
    const metrics = heldoutMetrics(await scoreHeldout(pool, encoding, val), options.utility);
    const hiddenSlot = options.alsoHiddenSlot
      ? heldoutMetrics(await scoreHeldout(pool, encoding, val, { hideSlot: true }))
      : undefined;
    const withSources = options.alsoSources
      ? heldoutMetrics(await scoreHeldout(pool, encoding, val, { sources: options.alsoSources }))
      : undefined;
    return { ...metrics, ...(hiddenSlot && { hiddenSlot }), ...(withSources && { withSources }) };
  } finally {
    await pool.close();
  }
}

/**
 * Validated when the served model beats the baseline order on click and save AUC — each head the
 * held-out data can measure, at least one of them — and ONNX agrees with PyTorch. On replayed
 * candidates the model reorders the page's own candidates, so in the served order (by utility,
 * when measured) it must also put at least as many of the held-out clicks in the top 20 as the
 * pre-score order: a higher AUC over the bulk of 200 candidates can still leave the page worse
 * (docs/RELEVANCE.md, "A ranker must not cost the page").
 */
export function validation(
  heldout: HeldoutMetrics,
  baselineName: RankerBaseline,
  baseline: HeldoutMetrics,
  report: TrainerReport,
): { validated: boolean; note: string } {
  const problems: string[] = [];
  const beaten: string[] = [];
  for (const head of ['click', 'save'] as const) {
    const key = `auc_${head}` as const;
    const model = heldout[key];
    if (model === undefined) continue; // no such action held out: nothing to compare
    const base = baseline[key];
    if (!(model > (base ?? 0.5)))
      problems.push(`held-out ${key} ${fmt(model)} does not beat ${baselineName} order ${fmt(base)}`);
    else beaten.push(`${key} ${fmt(model)} (${baselineName} ${fmt(base)})`);
    const torch = report.metrics[key];
    if (torch === undefined || Math.abs(torch - model) > 0.005)
      problems.push(`ONNX ${key} ${fmt(model)} differs from PyTorch ${fmt(torch)}`);
  }
  const [served, servedName] =
    heldout.recall20_utility === undefined
      ? [heldout.recall20_click, 'recall20_click']
      : [heldout.recall20_utility, 'recall20_utility'];
  if (baselineName === 'prescore' && served !== undefined && baseline.recall20_click !== undefined)
    if (served < baseline.recall20_click)
      problems.push(
        `held-out ${servedName} ${fmt(served)} is below the prescore order's recall20_click ${fmt(baseline.recall20_click)}`,
      );
  if (beaten.length === 0 && problems.length === 0)
    problems.push('neither click nor save AUC can be measured on the held-out sessions');
  return problems.length
    ? { validated: false, note: problems.join('; ') }
    : {
        validated: true,
        note:
          `held-out ${beaten.join(', ')}, hit3_save ${fmt(heldout.hit3_save)}` +
          (heldout.recall20_click === undefined
            ? ''
            : `, recall20_click ${fmt(heldout.recall20_click)} (${baselineName} ${fmt(baseline.recall20_click)})`) +
          (heldout.recall20_utility === undefined ? '' : `, recall20_utility ${fmt(heldout.recall20_utility)}`),
      };
}

/** A metric for people: 4 decimals, "—" when absent. */
const fmt = (x: number | undefined) => (x === undefined ? '—' : Number.isFinite(x) ? x.toFixed(4) : String(x));
/** Present metrics only, each under prefix + name. */
const prefixed = (prefix: string, m: HeldoutMetrics) =>
  Object.fromEntries(
    Object.entries(m)
      .filter((e): e is [string, number] => typeof e[1] === 'number')
      .map(([k, v]) => [`${prefix}${k}`, v]),
  );

// ---- eval-ranker ----------------------------------------------------------------------------------

export interface EvalRankerOptions {
  worldDir: string;
  /** Variants to train and compare (default: sequence and its no_sequence ablation). */
  variants?: RankerVariant[];
  epochs?: number;
  seed?: number;
  trainerArgs?: string[];
  workDir?: string;
  /**
   * The mesh whose generators and blender weights give the pre-score order to compare with (its
   * world.dir must be worldDir); without it the table has no pre-score row.
   */
  mesh?: MeshConfig;
  log?: (line: string) => void;
}

export interface EvalRankerRow {
  name: string;
  metrics: HeldoutMetrics;
  trainSeconds?: number;
}

export interface EvalRankerReport {
  world: string;
  heldoutDay: string;
  trainRequests: number;
  trainImpressions: number;
  /** The pre-score replay: generators asked, and how many shown items any of them proposed. */
  preScore?: { generators: number; proposed: number; impressions: number };
  rows: EvalRankerRow[];
}

const VARIANT_LABEL: Record<RankerVariant, string> = {
  sequence: 'transformer ranker (action sequence, served design)',
  no_sequence: 'same model without the action sequence (ablation)',
  early_fusion: 'early fusion (one sequence pass per candidate)',
};

/**
 * Trains each variant on every day but the last and scores the last day's sessions (as Rank
 * requests through the serving encoder and the exported ONNX model), next to the blender's
 * pre-score order (with a mesh: its generators replayed on those sessions), the incumbent's page
 * order (position) and popularity order. Each model is scored three ways: with the incumbent's
 * (generator, slot) as sources, as in training; with the blender's proposals (the mesh generators'
 * own ranks), as at serving; and with the slot hidden. Nothing is registered.
 */
export async function evalRanker(options: EvalRankerOptions): Promise<EvalRankerReport> {
  const log = options.log ?? (() => {});
  const work = options.workDir ? resolve(options.workDir) : await mkdtemp(join(tmpdir(), 'feedloom-eval-ranker-'));
  try {
    const dataset = await buildRankerDataset({ worldDir: options.worldDir, outDir: join(work, 'dataset'), log });
    const val = await readValRequests(dataset.dir);
    const replay = options.mesh ? await replayProposals(options.mesh, val, { log }) : undefined;
    const rows: EvalRankerRow[] = [
      ...(replay
        ? [
            {
              name: 'blender pre-score order (mesh generators replayed)',
              metrics: heldoutMetrics(preScoreSessions(val, replay)),
            },
          ]
        : []),
      // An imported log has no page order: every candidate would tie.
      ...((dataset.manifest.labels?.baseline ?? 'position') === 'position'
        ? [{ name: 'incumbent page order (position)', metrics: heldoutMetrics(baselineSessions(val, 'position')) }]
        : []),
      { name: 'popularity as of the day start', metrics: heldoutMetrics(baselineSessions(val, 'popularity')) },
    ];
    // The same models scored with the blender's proposals as sources (as served), then with the slot hidden: listed after.
    const served: EvalRankerRow[] = [];
    const hidden: EvalRankerRow[] = [];
    for (const variant of options.variants ?? ['sequence', 'no_sequence']) {
      const out = join(work, variant);
      const reportPath = join(work, `${variant}-report.json`);
      log(`training ${variant} …`);
      await runPython(trainerScript('ranker.py'), trainerArgs(dataset, out, reportPath, { ...options, variant }), {
        log,
      });
      const report = JSON.parse(await readFile(reportPath, 'utf8')) as TrainerReport;
      const { hiddenSlot, withSources, ...metrics } = await checkAndScore(out, dataset.manifest.encoding, dataset.dir, {
        alsoHiddenSlot: true,
        alsoSources: replay?.proposals,
      });
      rows.push({ name: VARIANT_LABEL[variant], metrics, trainSeconds: Number(report.training.train_seconds) });
      if (withSources)
        served.push({ name: `${VARIANT_LABEL[variant]}, blender's proposals as sources`, metrics: withSources });
      hidden.push({ name: `${VARIANT_LABEL[variant]}, slot hidden`, metrics: hiddenSlot! });
    }
    return {
      world: resolve(options.worldDir),
      heldoutDay: new Date(dataset.manifest.validationWindow.startMs).toISOString().slice(0, 10),
      trainRequests: dataset.manifest.counts.trainSessions,
      trainImpressions: dataset.manifest.counts.trainExamples,
      preScore: replay && {
        generators: replay.generators.length,
        proposed: replay.proposed,
        impressions: replay.impressions,
      },
      rows: [...rows, ...served, ...hidden],
    };
  } finally {
    if (!options.workDir) await rm(work, { recursive: true, force: true });
  }
}

export function formatRankerEval(r: EvalRankerReport): string {
  const head = ['ranking', 'AUC click', 'AUC save', 'AUC hide', 'HIT@3 save', 'train s'];
  const rows = r.rows.map((row) => [
    row.name,
    fmt(row.metrics.auc_click),
    fmt(row.metrics.auc_save),
    fmt(row.metrics.auc_hide),
    fmt(row.metrics.hit3_save),
    row.trainSeconds === undefined ? '' : row.trainSeconds.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const m = r.rows[0]?.metrics;
  const p = r.preScore;
  return [
    `ranker eval on ${r.world}: trained on ${r.trainRequests} requests / ${r.trainImpressions} impressions before ${r.heldoutDay};`,
    `held out ${r.heldoutDay}: ${m?.requests} requests (sessions, ranked at their start) / ${m?.impressions} impressions, ${m?.requestsWithSave} with a save`,
    ...(p
      ? [
          `pre-score replay: ${p.generators} generators; ${p.proposed} of ${p.impressions} shown items (${((100 * p.proposed) / p.impressions).toFixed(1)}%) proposed by at least one`,
        ]
      : []),
    line(head),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

// `feedloom train-ranker` and `feedloom eval-ranker` (services/offline/trainer/train-ranker.ts).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_PATH, loadMeshConfig, registryDirOf } from '../../../libs/config/mesh.js';
import { evalRanker, formatRankerEval, RANKER_VARIANTS, trainRanker, type RankerVariant } from '../../offline/trainer/train-ranker.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

// ---- command lines (the lead wires these into services/ops/cli/main.ts) ---------------------------------

const COMMON = {
  world: { type: 'string' },
  preset: { type: 'string' },
  config: { type: 'string', default: process.env.FEEDLOOM_CONFIG ?? join(ROOT, DEFAULT_CONFIG_PATH) },
  epochs: { type: 'string' },
  seed: { type: 'string', default: '7' },
  json: { type: 'boolean', default: false },
  'keep-work': { type: 'string' },
} as const;

export const TRAIN_RANKER_USAGE = `usage: feedloom train-ranker [--world DIR | --preset P] [--registry DIR] [--variant sequence|no_sequence|early_fusion]
                            [--epochs N] [--seed N] [--no-publish] [--keep-work DIR] [--json]`;
export const EVAL_RANKER_USAGE = `usage: feedloom eval-ranker [--world DIR | --preset P] [--variants sequence,no_sequence[,early_fusion]] [--epochs N] [--seed N] [--no-prescore] [--json]`;

function worldOf(values: { world?: string; preset?: string; config?: string }): { worldDir: string; registryDir?: string } {
  if (values.world) return { worldDir: resolve(values.world) };
  if (values.preset) return { worldDir: join(ROOT, 'data', values.preset) };
  const mesh = loadMeshConfig(values.config);
  return { worldDir: mesh.world.dir, registryDir: registryDirOf(mesh) };
}

const positiveInt = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got "${text}")`);
  return n;
};

/** `feedloom train-ranker …` (argv after the command name); returns the exit code. */
export async function runTrainRankerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...COMMON, registry: { type: 'string' }, variant: { type: 'string', default: 'sequence' }, 'no-publish': { type: 'boolean', default: false } } });
  if (!RANKER_VARIANTS.includes(values.variant as RankerVariant)) throw new Error(`--variant must be one of ${RANKER_VARIANTS.join(', ')}`);
  const { worldDir, registryDir } = worldOf(values);
  const log = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const result = await trainRanker({
    worldDir,
    registryDir: resolve(values.registry ?? registryDir ?? join(worldDir, 'models')),
    variant: values.variant as RankerVariant,
    epochs: positiveInt('epochs', values.epochs),
    seed: Number(values.seed),
    publish: !values['no-publish'],
    workDir: values['keep-work'],
    log,
  });
  const { info, heldout } = result;
  if (values.json) console.log(JSON.stringify({ model: info.model, version: info.version, state: info.state, heldout, baselines: result.baselines, note: result.validationNote, timings: result.timings }, null, 2));
  else {
    console.log(`\n${info.model} ${info.version} registered in ${dirOf(info.dir)} (state ${info.state}): ${result.validationNote}`);
    console.log(`dataset ${(result.timings.datasetMs / 1000).toFixed(1)} s, training ${(result.timings.trainMs / 1000).toFixed(1)} s`);
  }
  return result.validated ? 0 : 1;
}

/** `feedloom eval-ranker …`; prints the held-out table. */
export async function runEvalRankerCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...COMMON, variants: { type: 'string', default: 'sequence,no_sequence' }, 'no-prescore': { type: 'boolean', default: false } } });
  const variants = String(values.variants).split(',') as RankerVariant[];
  const bad = variants.filter((v) => !RANKER_VARIANTS.includes(v));
  if (bad.length) throw new Error(`--variants: unknown ${bad.join(', ')} (known: ${RANKER_VARIANTS.join(', ')})`);
  const { worldDir } = worldOf(values);
  const log = (line: string) => console.error(line);
  // The blender's generators and weights, over the evaluated world.
  const mesh = loadMeshConfig(values.config);
  mesh.world = { ...mesh.world, dir: worldDir };
  const report = await evalRanker({ worldDir, variants, epochs: positiveInt('epochs', values.epochs), seed: Number(values.seed), workDir: values['keep-work'], mesh: values['no-prescore'] ? undefined : mesh, log });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatRankerEval(report));
  return 0;
}

const dirOf = (versionDir: string) => resolve(versionDir, '..', '..');

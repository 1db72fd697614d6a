// `feedloom train-ranker` and `feedloom eval-ranker` (services/offline/trainer/train-ranker.ts).
import { join, resolve } from 'node:path';
import {
  defineCommand,
  EPOCHS,
  intFlag,
  JSON_OUTPUT,
  KEEP_WORK,
  PRESET,
  REGISTRY,
  REPO_ROOT,
  SEED,
  WORLD,
} from '../../../libs/bootstrap/command.js';
import { loadMeshConfig, registryDirOf } from '../../../libs/config/mesh.js';
import {
  evalRanker,
  formatRankerEval,
  RANKER_VARIANTS,
  trainRanker,
  type RankerVariant,
} from '../../offline/trainer/train-ranker.js';

/** The options both commands take. */
const RANKER_OPTIONS = {
  world: WORLD,
  preset: PRESET,
  epochs: EPOCHS,
  seed: SEED,
  json: JSON_OUTPUT,
  'keep-work': KEEP_WORK,
} as const;

export const trainRankerCommand = defineCommand({
  name: 'train-ranker',
  usage: '[--world DIR | --preset P]',
  summary: 'train the transformer ranker and publish it if it passes validation',
  options: {
    ...RANKER_OPTIONS,
    registry: REGISTRY,
    variant: { type: 'string', arg: RANKER_VARIANTS.join('|'), default: 'sequence', help: 'the model variant' },
    'no-publish': { type: 'boolean', help: 'register the version but do not publish it' },
  },
  async run({ values }) {
    if (!RANKER_VARIANTS.includes(values.variant as RankerVariant))
      throw new Error(`--variant must be one of ${RANKER_VARIANTS.join(', ')}`);
    const { worldDir, registryDir } = worldOf(values);
    const log = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
    // On an imported log the ranker learns from the candidates this mesh's blender would send it.
    const mesh = loadMeshConfig(values.config);
    mesh.world = { ...mesh.world, dir: worldDir, existing: true };
    const result = await trainRanker({
      worldDir,
      mesh,
      registryDir: resolve(values.registry ?? registryDir ?? join(worldDir, 'models')),
      variant: values.variant as RankerVariant,
      epochs: intFlag('epochs', values.epochs, 1),
      seed: Number(values.seed),
      publish: !values['no-publish'],
      workDir: values['keep-work'],
      log,
    });
    const { info, heldout } = result;
    if (values.json)
      console.log(
        JSON.stringify(
          {
            model: info.model,
            version: info.version,
            state: info.state,
            heldout,
            baselines: result.baselines,
            note: result.validationNote,
            timings: result.timings,
          },
          null,
          2,
        ),
      );
    else {
      console.log(
        `\n${info.model} ${info.version} registered in ${dirOf(info.dir)} (state ${info.state}): ${result.validationNote}`,
      );
      console.log(
        `dataset ${(result.timings.datasetMs / 1000).toFixed(1)} s, training ${(result.timings.trainMs / 1000).toFixed(1)} s`,
      );
    }
    return result.validated ? 0 : 1;
  },
});

export const evalRankerCommand = defineCommand({
  name: 'eval-ranker',
  usage: '[--preset small] [--json]',
  summary:
    "ranker AUC per head and HIT@3 vs the blender's pre-score order, position order and the no-sequence ablation",
  options: {
    ...RANKER_OPTIONS,
    variants: {
      type: 'string',
      arg: 'LIST',
      default: 'sequence,no_sequence',
      help: `the variants to train and compare (of ${RANKER_VARIANTS.join(', ')})`,
    },
    'no-prescore': { type: 'boolean', help: "leave out the blender's pre-score order (no mesh is served)" },
  },
  async run({ values }) {
    const variants = String(values.variants).split(',') as RankerVariant[];
    const bad = variants.filter((v) => !RANKER_VARIANTS.includes(v));
    if (bad.length) throw new Error(`--variants: unknown ${bad.join(', ')} (known: ${RANKER_VARIANTS.join(', ')})`);
    const { worldDir } = worldOf(values);
    const log = (line: string) => console.error(line);
    // The blender's generators and weights, over the evaluated world.
    const mesh = loadMeshConfig(values.config);
    mesh.world = { ...mesh.world, dir: worldDir };
    const report = await evalRanker({
      worldDir,
      variants,
      epochs: intFlag('epochs', values.epochs, 1),
      seed: Number(values.seed),
      workDir: values['keep-work'],
      mesh: values['no-prescore'] ? undefined : mesh,
      log,
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatRankerEval(report));
    return 0;
  },
});

function worldOf(values: { world?: string; preset?: string; config: string }): {
  worldDir: string;
  registryDir?: string;
} {
  if (values.world) return { worldDir: resolve(values.world) };
  if (values.preset) return { worldDir: join(REPO_ROOT, 'data', values.preset) };
  const mesh = loadMeshConfig(values.config);
  return { worldDir: mesh.world.dir, registryDir: registryDirOf(mesh) };
}

const dirOf = (versionDir: string) => resolve(versionDir, '..', '..');

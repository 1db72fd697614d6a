// `feedloom train two-tower|mf …`: build the dataset from the event log, run the PyTorch trainer,
// check the result, and register it as a new model version (state `trained`).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  commandHelp,
  defineCommand,
  EPOCHS,
  intFlag,
  JSON_OUTPUT,
  KEEP_WORK,
  REGISTRY,
  SEED,
  WORLD,
} from '../../../libs/bootstrap/command.js';
import { loadMeshConfig, registryDirOf, snapshotsDirOf } from '../../../libs/config/mesh.js';
import { USER_TOWERS, type UserTowerKind } from '../../../libs/features/two-tower.js';
import { DAY_MS } from '../../../libs/data/world.js';
import { MAX_ITEM_BOARDS } from '../../../libs/training/item-features.js';
import { trainMf } from '../../../libs/training/mf.js';
import { trainTwoTower } from '../../../libs/training/train-two-tower.js';

export const trainCommand = defineCommand({
  name: 'train',
  usage: 'two-tower|mf [--world DIR] [--seed N] [--epochs N] [--as-of MS] [--user-tower pooled|sequence]',
  summary: 'train a model and register it (see train --help)',
  about: `models:
  two-tower    the learned-retrieval two-tower model (user_tower.onnx + item_tower.onnx)
  mf           BPR matrix factorization; also publishes the mf_factors snapshot the mf generator reads`,
  options: {
    world: { ...WORLD, help: "the world to train on (default: the mesh config's world.dir)" },
    registry: REGISTRY,
    seed: SEED,
    epochs: {
      ...EPOCHS,
      help: 'training epochs (default: two-tower chosen on the newest training examples, at most 40; mf 30)',
    },
    dim: { type: 'string', arg: 'N', help: 'embedding / factor dimension (default 32)' },
    'user-tower': {
      type: 'string',
      arg: 'KIND',
      help: "two-tower only: pooled (an MLP over the mean of the history) or sequence (a small transformer over the newest actions, dense all-action loss); default: the mesh config's retrain.twoTower.userTower for the world's kind (pooled on both)",
    },
    'board-len': {
      type: 'string',
      arg: 'N',
      help: "two-tower only: give the item tower every board an item is on, N slots (an extra ONNX input, `boards`); default 0 = its primary board only (docs/RELEVANCE.md: no gain on sm's held-out day)",
    },
    'as-of': {
      type: 'string',
      arg: 'MS',
      help: "only events before this time, ms since the epoch (default: the end of the world's data)",
    },
    'holdout-days': {
      type: 'string',
      arg: 'N',
      help: 'days at the end of the window held out for the offline metrics (default: two-tower 1, mf 0 — mf serves what it learned from every day)',
    },
    snapshots: {
      type: 'string',
      arg: 'DIR',
      help: "mf only: where to publish mf_factors (default: the config's snapshots dir)",
    },
    'no-publish': { type: 'boolean', help: 'mf only: register the factors but do not publish the snapshot' },
    'keep-work': { ...KEEP_WORK, help: 'two-tower only: keep the dataset and trainer report in DIR' },
    json: JSON_OUTPUT,
  },
  positionals: 'MODEL',
  run: ({ values, positionals }) => runTrain(positionals, values),
});

/** `feedloom train MODEL …`; returns the process exit code. */
async function runTrain(
  positionals: string[],
  values: {
    config: string;
    world?: string;
    registry?: string;
    seed: string;
    epochs?: string;
    dim?: string;
    'user-tower'?: string;
    'board-len'?: string;
    'as-of'?: string;
    'holdout-days'?: string;
    snapshots?: string;
    'no-publish': boolean;
    'keep-work'?: string;
    json: boolean;
  },
): Promise<number> {
  const [model, ...extra] = positionals;
  if (model === undefined || model === 'help') {
    console.log(commandHelp(trainCommand));
    return model === undefined ? 2 : 0;
  }
  if ((model !== 'two-tower' && model !== 'two_tower' && model !== 'mf') || extra.length) {
    console.error(
      `feedloom train: unknown model "${[model, ...extra].join(' ')}" (expected two-tower or mf)\n\n${commandHelp(trainCommand)}`,
    );
    return 2;
  }
  const seed = intFlag('seed', values.seed, 0)!;
  const epochs = intFlag('epochs', values.epochs, 1);
  const dim = intFlag('dim', values.dim, 2);
  const asOfMs = intFlag('as-of', values['as-of'], 1);
  const boardLen = intFlag('board-len', values['board-len'], 0, MAX_ITEM_BOARDS);
  const userTower = values['user-tower'];
  if (userTower !== undefined && !(USER_TOWERS as readonly string[]).includes(userTower))
    throw new Error(`--user-tower must be one of ${USER_TOWERS.join(', ')} (got "${userTower}")`);
  const holdoutDays = values['holdout-days'] === undefined ? undefined : Number(values['holdout-days']);
  if (holdoutDays !== undefined && !(holdoutDays >= 0 && holdoutDays <= 365))
    throw new Error(`--holdout-days must be a number from 0 to 365 (got "${values['holdout-days']}")`);

  // The world and where results go: flags first, then the mesh config.
  const mesh = values.world && !existsSync(values.config) ? undefined : safeConfig(values.config, !values.world);
  const worldDir = resolve(values.world ?? mesh!.world.dir);
  const registryRoot = resolve(values.registry ?? (values.world ? join(worldDir, 'models') : registryDirOf(mesh!)));
  const log = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);

  if (model === 'mf') {
    const snapshotsDir = values['no-publish']
      ? null
      : resolve(values.snapshots ?? (values.world || !mesh ? join(worldDir, 'snapshots') : snapshotsDirOf(mesh)));
    const result = await trainMf({
      worldDir,
      registryRoot,
      snapshotsDir,
      asOfMs,
      holdoutMs: holdoutDays === undefined ? 0 : holdoutDays * DAY_MS,
      seed,
      epochs,
      dim,
      log,
    });
    if (values.json)
      console.log(
        JSON.stringify(
          {
            model: 'mf',
            version: result.info?.version,
            state: result.info?.state,
            snapshot: result.snapshotVersion,
            metrics: result.metrics,
            counts: result.counts,
            timings: result.timings,
          },
          null,
          2,
        ),
      );
    else {
      console.log(`\nmf ${result.info?.version} registered in ${registryRoot} (state ${result.info?.state})`);
      if (result.snapshotVersion)
        console.log(`published snapshot mf_factors ${result.snapshotVersion} in ${snapshotsDir}`);
      console.log(formatMetrics(result.metrics));
      console.log(
        `${result.counts.interactions} interactions, ${result.counts.users} users, ${result.counts.items} items; ${(result.timings.totalMs / 1000).toFixed(1)} s`,
      );
    }
    return 0;
  }

  const result = await trainTwoTower({
    worldDir,
    registryRoot,
    seed,
    epochs,
    dim,
    asOfMs,
    userTower: (userTower as UserTowerKind | undefined) ?? mesh?.retrain.twoTower.userTower,
    ensemble: mesh?.retrain.twoTower.ensemble,
    holdoutMs: holdoutDays === undefined ? undefined : holdoutDays * DAY_MS,
    workDir: values['keep-work'] ? resolve(values['keep-work']) : undefined,
    ...(boardLen === undefined ? {} : { dataset: { boardLen } }),
    log,
  });
  const { info, check, timings } = result;
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          model: info.model,
          version: info.version,
          state: info.state,
          dir: info.dir,
          dim: info.manifest.dim,
          dataWindow: info.manifest.dataWindow,
          metrics: info.manifest.metrics,
          check,
          timings,
        },
        null,
        2,
      ),
    );
  } else {
    const w = info.manifest.dataWindow;
    console.log(`\n${info.model} ${info.version} registered in ${registryRoot} (state ${info.state})`);
    console.log(
      `${info.manifest.userTower} user tower, data ${new Date(w.startMs).toISOString()} → ${new Date(w.endMs).toISOString()}, dim ${info.manifest.dim}, vocab ${info.manifest.vocab.items.length} items`,
    );
    console.log(formatMetrics(info.manifest.metrics));
    console.log(
      `onnxruntime check: max |onnx − torch| ${Math.max(check.maxAbsDiffUser, check.maxAbsDiffItem).toExponential(1)}, max |‖e‖ − 1| ${check.maxNormError.toExponential(1)}`,
    );
    console.log(
      `dataset ${(timings.datasetMs / 1000).toFixed(1)} s, training ${(timings.trainMs / 1000).toFixed(1)} s, check ${(timings.verifyMs / 1000).toFixed(1)} s, total ${(timings.totalMs / 1000).toFixed(1)} s`,
    );
  }
  return 0;
}

function safeConfig(path: string, required: boolean) {
  try {
    return loadMeshConfig(path);
  } catch (err) {
    if (required) throw new Error(`${(err as Error).message}\n(or pass --world DIR)`);
    return undefined;
  }
}

function formatMetrics(metrics: Record<string, number>): string {
  const keys = Object.keys(metrics).sort();
  const width = Math.max(...keys.map((k) => k.length));
  return keys
    .map((k) => `  ${k.padEnd(width)}  ${Number.isInteger(metrics[k]) ? metrics[k] : metrics[k]?.toFixed(4)}`)
    .join('\n');
}

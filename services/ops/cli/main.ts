import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';
import { addressOf, loadMeshConfig, DEFAULT_CONFIG_PATH } from '../../../libs/config/mesh.js';
import { buildWorld } from '../../../libs/data/build.js';
import { continueWorld } from '../../../libs/data/simulator/simulate.js';
import { runBatchJobs } from '../../../libs/data/batch/run.js';
import { importInteractions } from '../../../libs/data/importer.js';
import { UDATA_FULL, UDATA_SMALL, writeUData } from '../../../libs/data/udata-fixture.js';
import { fetchFeed, formatDebug, formatFeed } from './feed.js';
import { newGenerator } from './new-generator.js';
import { writeK8sManifests } from './k8s.js';
import { runTrainCommand } from './train.js';
import { runEvalRankerCommand, runTrainRankerCommand } from './train-ranker.js';
import { runRetrainCommand } from './retrain.js';
import { runIndexCommand } from '../../offline/indexer/cli.js';
import { runAnnCommand } from './ann.js';
import { runRollbackCommand, runRolloutCommand, runStatusCommand } from './rollout.js';
import { runDemo, runUp } from './up.js';
import { runEvalCommand } from './eval.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const USAGE = `feedloom — a candidate-generation mesh for a home feed

usage: npx feedloom <command> [options]

  up [--all-in-one] [--config FILE] [--world DIR] [--force]
                                         prepare the world and serve the whole mesh: the configured simulated
                                         world, or with --world the existing (e.g. imported) world in DIR as it is;
                                         --force replaces a world that is not the configured one (moved aside)
  demo [same options as up]              up, print a few feeds and the eval table, stop
       [--unsynced]                      (up/demo, for demos only) learned generators embed users with the
                                         viewer's newest version, not the answering host's: the failure sync prevents
  feed USER_ID [--debug] [--limit N]     ask a running blender for a feed
  eval [--preset small|--world DIR] [--split user-last:0.2|last-day] [--json] [--k 100,500] [--users N] [--doc FILE] [--tune-weights]
                                         (an imported world: --split user-last:0.2 and --k 20,100 by default, with
                                         popularity, item-kNN and EASE beside the generators and the served Blend)
                                         recall, coverage, overlap, marginal value per generator
  build-world [--preset P] [--seed N] [--dir DIR] [--continue DAYS] [--force]
                                         simulate a world and build its snapshots (--continue: DAYS more days of an existing one)
  batch [--world DIR]                    rebuild the snapshots from the event log
  import --input FILE --columns user,item,rating,timestamp [--sep tab] [--header] --out DIR [--force]
                                         turn an interaction file into a world; serve it with up --world DIR
  write-udata --out FILE [--size full|small] [--seed N]
                                         write a MovieLens u.data-layout ratings file (1997-98) to try import on
  train two-tower|mf [--world DIR] [--seed N] [--epochs N] [--as-of MS]
                                         train a model and register it (see train --help)
  train-ranker [--world DIR | --preset P]  train the transformer ranker and publish it if it passes validation
  eval-ranker [--preset small] [--json]  ranker AUC per head and HIT@3 vs the blender's pre-score order, position order and the no-sequence ablation
  retrain [--world DIR] [--rollout] [--every 6h]
                                         train both models on the newest data, gate them against serving, publish (see retrain --help)
  index [--version V]                    run the item tower over the catalog and build the faiss index (see index --help)
  ann status|load|serve|unload|rollout   operate the ANN hosts (see ann --help)
  rollout --model two_tower|ranker [--version V]   staged rollout: viewer, index, canary + guards, hosts
  rollback [--model M] [--to VERSION]    every host (or the ranker) back on an earlier version
  status [--json]                        versions served per service and host, state history, last cycle
  k8s [--out deploy/k8s] [--namespace N] [--image IMG] [--replicas N]
                                         Kubernetes manifests generated from the mesh config
  new-generator NAME --kind heuristic|graph|learned
                                         scaffold a generator from the template and register it
`;

/** Demo and test switch: learned generators stop syncing versions (child processes inherit it). */
function unsynced(): void {
  process.env.FEEDLOOM_LEARNED_UNSYNCED = '1';
  console.log('--unsynced: learned generators embed with the viewer\'s newest version (for demonstration only)');
}

/** `--world DIR`: this command and every process it starts serve the existing world in DIR. */
function serveWorld(dir: string): void {
  process.env.FEEDLOOM_WORLD = resolve(dir);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };
  const args = (options: NonNullable<ParseArgsConfig['options']>): Parsed =>
    parseArgs({ args: rest, options: { config: { type: 'string', default: process.env.FEEDLOOM_CONFIG ?? join(ROOT, DEFAULT_CONFIG_PATH) }, ...options }, allowPositionals: true }) as Parsed;
  switch (command) {
    case 'up':
    case 'demo': {
      const { values } = args({ 'all-in-one': { type: 'boolean', default: false }, unsynced: { type: 'boolean', default: false }, world: { type: 'string' }, force: { type: 'boolean', default: false } });
      if (values.unsynced) unsynced();
      if (values.world) serveWorld(values.world as string);
      const options = { allInOne: values['all-in-one'] as boolean, force: values.force as boolean };
      await (command === 'up' ? runUp : runDemo)(values.config as string, options);
      return 0;
    }
    case 'feed': {
      const { values, positionals } = args({ debug: { type: 'boolean', default: false }, limit: { type: 'string', default: '20' }, address: { type: 'string' } });
      if (positionals.length !== 1) throw new Error('usage: feedloom feed USER_ID [--debug] [--limit N] [--address HOST:PORT]');
      const mesh = loadMeshConfig(values.config as string);
      const address = (values.address as string | undefined) ?? addressOf(mesh, mesh.services.blender);
      const feed = await fetchFeed(address, positionals[0], { limit: Number(values.limit), debug: values.debug as boolean });
      console.log(formatFeed(positionals[0], feed));
      if (values.debug) console.log(formatDebug(feed));
      return 0;
    }
    case 'eval': {
      const { values } = args({ preset: { type: 'string' }, world: { type: 'string' }, json: { type: 'boolean', default: false }, k: { type: 'string' }, split: { type: 'string' }, users: { type: 'string', default: '400' }, doc: { type: 'string' }, 'tune-weights': { type: 'boolean', default: false } });
      return runEvalCommand({
        configPath: values.config as string,
        preset: values.preset as string | undefined,
        worldDir: values.world as string | undefined,
        json: values.json as boolean,
        ks: values.k === undefined ? undefined : String(values.k).split(',').map(Number),
        split: values.split as string | undefined,
        maxUsers: Number(values.users),
        docPath: values.doc as string | undefined,
        tuneWeights: values['tune-weights'] as boolean,
      });
    }
    case 'build-world': {
      const { values } = args({ preset: { type: 'string', default: 'default' }, seed: { type: 'string', default: '7' }, dir: { type: 'string' }, continue: { type: 'string' }, force: { type: 'boolean', default: false } });
      const dir = resolve((values.dir as string | undefined) ?? join(ROOT, 'data', values.preset as string));
      if (values.continue !== undefined) {
        const world = await continueWorld(dir, Number(values.continue));
        await runBatchJobs({ worldDir: dir });
        console.log(`world at ${dir} now has ${world.days} days; snapshots rebuilt`);
        return 0;
      }
      await buildWorld({ preset: values.preset as 'tiny', seed: Number(values.seed), dir, force: values.force as boolean });
      console.log(`world ready at ${dir}`);
      return 0;
    }
    case 'batch': {
      const { values } = args({ world: { type: 'string' } });
      const worldDir = (values.world as string | undefined) ?? loadMeshConfig(values.config as string).world.dir;
      for (const job of await runBatchJobs({ worldDir })) console.log(`${job.name.padEnd(24)} ${String(job.rows).padStart(9)} rows  ${job.version}  ${job.ms.toFixed(0)} ms`);
      return 0;
    }
    case 'import': {
      const { values } = args({ input: { type: 'string' }, columns: { type: 'string' }, sep: { type: 'string', default: 'tab' }, out: { type: 'string' }, header: { type: 'boolean', default: false }, force: { type: 'boolean', default: false } });
      if (!values.input || !values.columns || !values.out) throw new Error('usage: feedloom import --input FILE --columns user,item,rating,timestamp [--sep tab] --out DIR');
      const result = await importInteractions({
        input: values.input as string,
        dir: resolve(values.out as string),
        sep: values.sep as string,
        columns: String(values.columns).split(','),
        header: values.header as boolean,
        force: values.force as boolean,
      });
      if (result.movedTo) console.log(`the world that was in ${values.out} was moved aside to ${result.movedTo}`);
      console.log(`imported ${result.imported} interactions into ${values.out}`);
      if (result.rejected.length) {
        console.log(`rejected ${result.rejected.length} row(s):`);
        for (const r of result.rejected.slice(0, 50)) console.log(`  line ${r.line}: ${r.reason}`);
        if (result.rejected.length > 50) console.log(`  … and ${result.rejected.length - 50} more`);
      }
      await runBatchJobs({ worldDir: resolve(values.out as string) });
      console.log('snapshots built');
      return 0;
    }
    case 'write-udata': {
      const { values } = args({ out: { type: 'string' }, size: { type: 'string', default: 'full' }, seed: { type: 'string' } });
      if (!values.out) throw new Error('usage: feedloom write-udata --out FILE [--size full|small] [--seed N]');
      const sizes: Record<string, typeof UDATA_FULL> = { full: UDATA_FULL, small: UDATA_SMALL };
      const size = sizes[values.size as string];
      if (!size) throw new Error(`--size: must be full or small (got ${values.size})`);
      const rows = writeUData(values.out as string, { ...size, ...(values.seed ? { seed: Number(values.seed) } : {}) });
      console.log(`wrote ${rows} ratings (user, item, rating, unix seconds; tab-separated) to ${values.out}`);
      return 0;
    }
    case 'train':
      return runTrainCommand(rest);
    case 'train-ranker':
      return runTrainRankerCommand(rest);
    case 'eval-ranker':
      return runEvalRankerCommand(rest);
    case 'retrain':
      return runRetrainCommand(rest);
    case 'index':
      return runIndexCommand(rest);
    case 'ann':
      return runAnnCommand(rest);
    case 'rollout':
      return runRolloutCommand(rest);
    case 'rollback':
      return runRollbackCommand(rest);
    case 'status':
      return runStatusCommand(rest);
    case 'k8s': {
      const { values } = args({ out: { type: 'string', default: 'deploy/k8s' }, namespace: { type: 'string', default: 'feedloom' }, image: { type: 'string', default: 'feedloom:latest' }, replicas: { type: 'string', default: '2' }, 'world-claim': { type: 'string', default: 'feedloom-world' } });
      const files = writeK8sManifests(values.config as string, values.out as string, {
        namespace: values.namespace as string,
        image: values.image as string,
        replicas: Number(values.replicas),
        worldClaim: values['world-claim'] as string,
      });
      console.log(`wrote ${files.length} manifests and kustomization.yaml to ${values.out}; deploy with: kubectl apply -k ${values.out}`);
      return 0;
    }
    case 'new-generator': {
      const { values, positionals } = args({ kind: { type: 'string', default: 'heuristic' } });
      if (positionals.length !== 1) throw new Error('usage: feedloom new-generator NAME --kind heuristic|graph|learned');
      const { dir, port } = newGenerator(ROOT, positionals[0], values.kind as string, values.config as string);
      console.log(`created ${dir} (port ${port}); registered in ${values.config}`);
      console.log(`next: edit ${join(dir, 'generator.ts')}, then make test`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`feedloom: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);

import { annShardCount, registryDirOf, snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { buildWorld } from '../../../libs/data/build.js';
import { currentSnapshotVersion } from '../../../libs/data/snapshots.js';
import { hasIndex } from '../../../libs/ann/index-files.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { MF_SNAPSHOT, trainMf } from '../../../libs/training/mf.js';
import { trainTwoTower } from '../../../libs/training/train-two-tower.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { MF_EPOCHS } from './prepare-as-of.js';
import { trainRanker } from './train-ranker.js';

const TWO_TOWER = 'two_tower';

export interface PrepareOptions {
  log?: (line: string) => void;
  /** Two-tower epochs (default: the trainer's). */
  epochs?: number;
  /** Replace a world in the directory that is not the configured simulation (moved aside). */
  force?: boolean;
}

/**
 * Everything the configured mesh needs before it can serve, each step skipped when already done:
 * the world (an existing one as it is, or the configured simulation) and its snapshots, the mf
 * factors, (when learned retrieval is configured) a trained two-tower version with its ANN index,
 * and a first ranker.
 */
export async function prepareWorld(mesh: MeshConfig, options: PrepareOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const worldDir = mesh.world.dir;
  await buildWorld({
    preset: mesh.world.preset,
    seed: mesh.world.seed,
    dir: worldDir,
    existing: mesh.world.existing,
    force: options.force,
    batchSettings: mesh.batch,
    log,
  });
  const registryRoot = registryDirOf(mesh);

  if (
    mesh.generators.some((g) => g.name === 'mf') &&
    !(await currentSnapshotVersion(snapshotsDirOf(mesh), MF_SNAPSHOT))
  ) {
    log('training mf (BPR) …');
    await trainMf({ worldDir, registryRoot, snapshotsDir: snapshotsDirOf(mesh), epochs: MF_EPOCHS, log });
  }

  if (mesh.ann && mesh.services.viewer) {
    const registry = new ModelRegistry(registryRoot);
    let version = await registry.latest(TWO_TOWER, ['trained', 'validated', 'published', 'serving']);
    if (!version) {
      log('training the two-tower model …');
      version = (
        await trainTwoTower({ worldDir, registryRoot, log, ...(options.epochs ? { epochs: options.epochs } : {}) })
      ).info;
    }
    if (!(await hasIndex(version.dir, annShardCount(mesh)))) {
      log(`indexing ${TWO_TOWER} ${version.version} …`);
      await runIndexer({
        registryDir: registryRoot,
        worldDir,
        version: version.version,
        shards: annShardCount(mesh),
        log,
      });
    }
  }

  const ranker = mesh.services.ranker;
  if (ranker && !(await new ModelRegistry(registryRoot).latest(ranker.model, ['published', 'serving']))) {
    // A first ranker on a time budget, so a first `make up` stays minutes, not an hour; retrain for a better one.
    log(`training the ranker (one epoch, at most ${RANKER_BUDGET_S} s) …`);
    const result = await trainRanker({
      worldDir,
      registryDir: registryRoot,
      model: ranker.model,
      epochs: 1,
      trainerArgs: ['--max-train-seconds', String(RANKER_BUDGET_S)],
      log,
    });
    if (result.info.state !== 'published')
      log(`the ranker did not pass validation (${result.info.state}); the blender will keep pre-score order`);
  }
}

const RANKER_BUDGET_S = 90;

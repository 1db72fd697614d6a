// What the mesh's generators serve from, prepared for a world (each step skipped when done):
// prepareWorld adds a first ranker; the ranker's candidate replay needs these alone.
import { annShardCount, registryDirOf, snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { buildWorld } from '../../../libs/data/build.js';
import { userTowerOf, type TwoTowerManifest } from '../../../libs/features/two-tower.js';
import { currentSnapshotVersion } from '../../../libs/data/snapshots.js';
import { hasIndex } from '../../../libs/ann/index-files.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { MF_SNAPSHOT, trainMf } from '../../../libs/training/mf.js';
import { trainTwoTower, userTowerFor } from '../../../libs/training/train-two-tower.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { MF_EPOCHS } from './prepare-as-of.js';

const TWO_TOWER = 'two_tower';

export interface PrepareOptions {
  log?: (line: string) => void;
  /** Two-tower epochs (default: the trainer's). */
  epochs?: number;
  /** Seed of the models trained here (default: each trainer's, 7). */
  seed?: number;
  /** Replace a world in the directory that is not the configured simulation (moved aside). */
  force?: boolean;
  /**
   * Train the two-tower model on every interaction, holding none out (the trainer's default holds
   * out the last day, which in a per-user split holds only the few users whose history ends there):
   * the per-user split worlds of the eval and of the ranker's candidate replay.
   */
  twoTowerOnAll?: boolean;
  /**
   * The first ranker's training budget in seconds (default 90, so a first `up` stays minutes). The
   * eval raises it: its steps, not the machine's load, should decide the model it measures.
   */
  rankerBudgetS?: number;
}

/**
 * The world (an existing one as it is, or the configured simulation) and its snapshots, the mf
 * factors, and (when learned retrieval is configured) a trained two-tower version with its ANN
 * index: everything the generators serve from.
 */
export async function prepareGenerators(mesh: MeshConfig, options: PrepareOptions = {}): Promise<void> {
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
    await trainMf({
      worldDir,
      registryRoot,
      snapshotsDir: snapshotsDirOf(mesh),
      epochs: MF_EPOCHS,
      seed: options.seed,
      log,
    });
  }

  if (mesh.ann && mesh.services.viewer) {
    const registry = new ModelRegistry(registryRoot);
    let version = await registry.latest<TwoTowerManifest>(TWO_TOWER, ['trained', 'validated', 'published', 'serving']);
    // A version with another user tower than the configured one (the config was switched) is not reused.
    const userTower = await userTowerFor(worldDir, mesh.retrain.twoTower.userTower);
    if (!version || userTowerOf(version.manifest) !== userTower) {
      log(
        `training the two-tower model (${userTower} user tower)${options.twoTowerOnAll ? ' on every interaction' : ''} …`,
      );
      version = (
        await trainTwoTower({
          worldDir,
          registryRoot,
          seed: options.seed,
          userTower,
          ensemble: mesh.retrain.twoTower.ensemble,
          log,
          ...(options.epochs ? { epochs: options.epochs } : {}),
          ...(options.twoTowerOnAll ? { holdoutMs: 0 } : {}),
        })
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
}

// The world as it stood at a past time, for offline evaluation: snapshots and learned models built
// only from the days before it. The eval (services/offline/eval) and the ranker's pre-score replay
// serve the mesh on them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { annShardCount, type MeshConfig } from '../../../libs/config/mesh.js';
import { runBatchJobs } from '../../../libs/data/batch/run.js';
import { BATCH_JOBS } from '../../../libs/data/batch/jobs/index.js';
import { currentSnapshotVersion } from '../../../libs/data/snapshots.js';
import { hasIndex } from '../../../libs/ann/index-files.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { userTowerOf, type TwoTowerManifest } from '../../../libs/features/two-tower.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { MF_SNAPSHOT, trainMf } from '../../../libs/training/mf.js';
import { trainTwoTower, userTowerFor } from '../../../libs/training/train-two-tower.js';

/** mf's default is 30 epochs; 10 keeps a first `make up` on the default world to minutes. */
export const MF_EPOCHS = 10;

/** mf factors and a two-tower version with its index, trained only on data before asOfMs. */
async function prepareLearnedModels(
  mesh: MeshConfig,
  o: { worldDir: string; snapshotsDir: string; registryDir: string; asOfMs: number; log: (line: string) => void },
): Promise<void> {
  if (mesh.generators.some((g) => g.name === 'mf') && !(await currentSnapshotVersion(o.snapshotsDir, MF_SNAPSHOT))) {
    o.log('training mf as of the test day …');
    await trainMf({ worldDir: o.worldDir, snapshotsDir: o.snapshotsDir, asOfMs: o.asOfMs, epochs: MF_EPOCHS });
  }
  if (!mesh.ann || !mesh.services.viewer) return;
  const registry = new ModelRegistry(o.registryDir);
  let version = await registry.latest<TwoTowerManifest>('two_tower', ['trained', 'validated', 'published', 'serving']);
  // The trainer's settings were chosen on a held-out day; the model under evaluation then trains on
  // the whole window up to the test day, as the snapshots do (an older cached version that held
  // out the last day is not reused), with the user tower configured for the kind of world.
  const userTower = await userTowerFor(o.worldDir, mesh.retrain.twoTower.userTower);
  if (!version || version.manifest.dataWindow.endMs !== o.asOfMs || userTowerOf(version.manifest) !== userTower) {
    o.log('training the two-tower model on every day before the test day …');
    version = (
      await trainTwoTower({
        worldDir: o.worldDir,
        registryRoot: o.registryDir,
        asOfMs: o.asOfMs,
        holdoutMs: 0,
        userTower,
        ensemble: mesh.retrain.twoTower.ensemble,
      })
    ).info;
  }
  if (!(await hasIndex(version.dir, annShardCount(mesh)))) {
    o.log(`indexing two_tower ${version.version} …`);
    await runIndexer({
      registryDir: o.registryDir,
      worldDir: o.worldDir,
      version: version.version,
      asOfMs: o.asOfMs,
      shards: annShardCount(mesh),
    });
  }
}

/**
 * The world as it stood at asOfMs, for evaluation: snapshots and learned models built only from
 * the days before, under <world>/eval/asof-<ms>/. Reused across evals of the same world and day
 * while the set of batch jobs and their settings are the same.
 */
export async function prepareAsOf(
  mesh: MeshConfig,
  worldDir: string,
  asOfMs: number,
  log: (line: string) => void,
): Promise<{ snapshotsDir: string; registryDir: string }> {
  const snapshotsDir = join(worldDir, 'eval', `asof-${asOfMs}`, 'snapshots');
  const jobs = BATCH_JOBS.map((j) => j.name).join(',') + JSON.stringify(mesh.batch);
  const marker = join(snapshotsDir, '.complete');
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== jobs) {
    log(`building snapshots as of ${new Date(asOfMs).toISOString()} …`);
    await runBatchJobs({ worldDir, snapshotsDir, asOfMs, settings: mesh.batch });
    writeFileSync(marker, jobs);
  }
  const registryDir = join(worldDir, 'eval', `asof-${asOfMs}`, 'models');
  await prepareLearnedModels(mesh, { worldDir, snapshotsDir, registryDir, asOfMs, log });
  return { snapshotsDir, registryDir };
}

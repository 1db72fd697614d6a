// The eval's second two-tower row: the user tower the config does not serve on this kind of world
// (retrain.twoTower.userTower), trained like the served one (same world, seed, every interaction)
// and registered as its own model, two_tower_<kind>. The viewer and the ANN hosts serve every
// registry model, so it is served beside two_tower, and the two_tower generator module with
// settings.model pointing at it retrieves with it: the same version-synced path, another model.
import { annShardCount, registryDirOf, snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { hasIndex } from '../../../libs/ann/index-files.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { TWO_TOWER_MODEL, USER_TOWERS, type UserTowerKind } from '../../../libs/features/two-tower.js';
import { serveGenerator } from '../../../libs/generator-sdk/serve.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { trainTwoTower, userTowerFor } from '../../../libs/training/train-two-tower.js';
import { loadGeneratorModule } from '../../generators/registry.js';
import type { RunningMesh } from '../../servers.js';

export interface OtherUserTower {
  kind: UserTowerKind;
  /** Its registry model. */
  model: string;
  /** Its eval row. */
  row: string;
}

/**
 * Trains and indexes the other user tower on the mesh's world (as of world.asOfMs when set; skipped
 * when done); undefined without two_tower.
 */
export async function prepareOtherUserTower(
  mesh: MeshConfig,
  o: { seed?: number; log: (line: string) => void },
): Promise<OtherUserTower | undefined> {
  if (!mesh.ann || !mesh.services.viewer || !mesh.generators.some((g) => g.name === TWO_TOWER_MODEL)) return undefined;
  const worldDir = mesh.world.dir;
  const asOfMs = mesh.world.asOfMs;
  const served = await userTowerFor(worldDir, mesh.retrain.twoTower.userTower);
  const kind = USER_TOWERS.find((k) => k !== served)!;
  const other = { kind, model: `${TWO_TOWER_MODEL}_${kind}`, row: `${TWO_TOWER_MODEL} (${kind})` };
  const registryRoot = registryDirOf(mesh);
  let version = await new ModelRegistry(registryRoot).latest(other.model, [
    'trained',
    'validated',
    'published',
    'serving',
  ]);
  if (!version) {
    o.log(`training the two-tower model with the ${kind} user tower (as ${other.model}) on every interaction …`);
    version = (
      await trainTwoTower({
        worldDir,
        registryRoot,
        model: other.model,
        seed: o.seed,
        userTower: kind,
        ensemble: mesh.retrain.twoTower.ensemble,
        asOfMs,
        holdoutMs: 0,
        log: o.log,
      })
    ).info;
  }
  const shards = annShardCount(mesh);
  if (!(await hasIndex(version.dir, shards))) {
    o.log(`indexing ${other.model} ${version.version} …`);
    await runIndexer({
      registryDir: registryRoot,
      worldDir,
      model: other.model,
      version: version.version,
      asOfMs,
      shards,
      log: o.log,
    });
  }
  return other;
}

/**
 * The two_tower generator retrieving with the other model, on a free port, calling the viewer and
 * the ANN hosts of the running mesh (`mesh` points at them); warm when it returns. When it cannot
 * start, the running mesh is stopped too.
 */
export async function serveOtherUserTower(
  mesh: MeshConfig,
  other: OtherUserTower,
  running: RunningMesh,
): Promise<{ name: string; kind: 'learned'; address: string; stop(): Promise<void> }> {
  const twoTower = mesh.generators.find((g) => g.name === TWO_TOWER_MODEL)!;
  try {
    const server = await serveGenerator(await loadGeneratorModule(TWO_TOWER_MODEL), {
      snapshotsDir: snapshotsDirOf(mesh),
      settings: { ...twoTower.settings, model: other.model },
      pollMs: mesh.snapshotPollMs,
      host: mesh.listenHost ?? mesh.host,
      port: 0,
      mesh,
    });
    await server.warming();
    return { name: other.row, kind: 'learned', address: server.address, stop: () => server.stop() };
  } catch (err) {
    await running.stop();
    throw err;
  }
}

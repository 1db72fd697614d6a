import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { readWorldManifest } from '../../../libs/data/world.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { prepareGenerators, type PrepareOptions } from './prepare-generators.js';
import { trainRanker } from './train-ranker.js';

/**
 * Everything the configured mesh needs before it can serve, each step skipped when already done:
 * what its generators serve from (prepareGenerators: the world, its snapshots, the mf factors, a
 * two-tower version with its index) and a first ranker.
 */
export async function prepareWorld(mesh: MeshConfig, options: PrepareOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  await prepareGenerators(mesh, { ...options, log });
  const worldDir = mesh.world.dir;
  const registryRoot = registryDirOf(mesh);
  const ranker = mesh.services.ranker;
  if (ranker && !(await new ModelRegistry(registryRoot).latest(ranker.model, ['published', 'serving']))) {
    // A first ranker on a time budget, so a first `make up` stays minutes, not an hour; retrain for a
    // better one. On an imported log it learns from the blender's replayed candidates (one request per
    // user: the trainer's own epochs fit the budget).
    const imported = (await readWorldManifest(worldDir)).source === 'import';
    log(`training the ranker (${imported ? 'replayed candidates' : 'one epoch'}, at most ${RANKER_BUDGET_S} s) …`);
    const result = await trainRanker({
      worldDir,
      registryDir: registryRoot,
      model: ranker.model,
      ...(imported ? {} : { epochs: 1 }),
      seed: options.seed,
      trainerArgs: ['--max-train-seconds', String(RANKER_BUDGET_S)],
      mesh,
      log,
    });
    if (result.info.state !== 'published')
      log(`the ranker did not pass validation (${result.info.state}); the blender will keep pre-score order`);
  }
}

const RANKER_BUDGET_S = 90;

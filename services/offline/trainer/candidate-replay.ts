// The ranker's requests on a log without an impression log of its own (an imported interaction
// file): what the blender would have sent the ranker, and what the user did next. Each user's last
// share of interactions is held out (the per-user split `feedloom eval` measures imported worlds
// with, libs/eval/split-world.ts, and its world under <world>/eval/); the mesh is prepared on the
// rest (snapshots, mf, two-tower and its index; no ranker) and its generators are asked, for each
// user, with the user's context there, as the blender's fan-out asks. The blender's own policy
// dedupes, filters and pre-scores their answers, and the top N of the pre-score order, each with
// every (generator, rank) that proposed it, is the request. libs/ranking/dataset.ts labels each
// candidate by whether the user went on to interact with it (the held-out interactions).
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { snapshotsDirOf } from '../../../libs/config/mesh.js';
import { itemCatalogOf } from '../../../libs/blend/catalog.js';
import { policyFromConfig } from '../../../libs/blend/policy.js';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { popularity } from '../../../libs/data/batch/jobs/popularity.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { buildSplitWorld } from '../../../libs/eval/split-world.js';
import { rankerCatalog } from '../../../libs/ranking/catalog.js';
import type { CandidateReplay } from '../../../libs/ranking/dataset.js';
import { prepareGenerators } from './prepare-generators.js';
import { serveGenerators } from './serve-generators.js';

/** Each user's held-out share: the split `feedloom eval` uses on imported worlds. */
export const REPLAY_HELDOUT_FRACTION = 0.2;
/** The ranker's topN when the mesh configures none. */
const DEFAULT_TOP_N = 200;

/** For every user with held-out interactions: the candidates the blender would have sent the ranker. */
export async function replayCandidates(
  mesh: MeshConfig,
  worldDir: string,
  options: { fraction?: number; concurrency?: number; log?: (line: string) => void } = {},
): Promise<CandidateReplay> {
  const log = options.log ?? (() => {});
  const fraction = options.fraction ?? REPLAY_HELDOUT_FRACTION;
  const split = await buildSplitWorld(worldDir, { fraction }, log);
  // The mesh on the split's training world, without a ranker: the replay asks the generators only.
  const replayMesh: MeshConfig = structuredClone(mesh);
  replayMesh.world = { preset: mesh.world.preset, seed: mesh.world.seed, dir: split.dir, existing: true };
  delete replayMesh.registryDir;
  delete replayMesh.services.ranker;
  await prepareGenerators(replayMesh, { log, twoTowerOnAll: true });

  const manifest = await readWorldManifest(split.dir);
  // Where the training world's clock starts: the time of every request.
  const timeMs = manifest.startMs + manifest.days * DAY_MS;
  const snapshots = snapshotsDirOf(replayMesh);
  const itemRows = (await readSnapshot(snapshots, itemMeta)).rows;
  const catalog = itemCatalogOf(itemRows);
  const items = rankerCatalog(itemRows, (await readSnapshot(snapshots, popularity)).rows);
  const policy = policyFromConfig(mesh);
  const topN = mesh.services.ranker?.topN ?? DEFAULT_TOP_N;
  const users = [...split.heldOut.keys()].sort();
  log(`candidate replay: asking the mesh for ${users.length} users (each holds out the last ${100 * fraction}%) …`);
  const requests: CandidateReplay['requests'] = new Array(users.length);
  await serveGenerators(replayMesh, async (served) => {
    let next = 0;
    const worker = async () => {
      while (next < users.length) {
        const i = next++;
        const user = await served.context(users[i]);
        const answers = await served.generate(user, `candidate-replay-${i}`);
        requests[i] = {
          user: users[i],
          timeMs,
          historyEndMs: split.cutMs.get(users[i])!,
          candidates: policy
            .preScore(policy.eligible(answers, user, catalog))
            .slice(0, topN)
            .map((c) => ({
              itemId: c.itemId,
              sources: c.proposals.map((p) => ({ generator: p.generator, rank: p.rank })),
            })),
        };
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  });
  return { requests, items, heldOutFraction: fraction };
}

// The ranker's requests on a log without an impression log of its own (an imported interaction
// file): what the blender would have sent the ranker, and what the user did next. Each user's last
// share of interactions is held out (the per-user split `feedloom eval` measures imported worlds
// with, libs/eval/split-world.ts, and its world under <world>/eval/); the mesh is prepared on the
// rest (snapshots, mf, two-tower and its index; no ranker) and its generators are asked, for each
// user, with the user's context there, as the blender's fan-out asks. The blender's own policy
// dedupes, filters and pre-scores their answers, and the top N of the pre-score order, each with
// every (generator, rank) that proposed it, is the request. libs/ranking/dataset.ts labels each
// candidate by whether the user went on to interact with it (the held-out interactions).
// The answers themselves (replayAnswers: every eligible candidate, before any weights) are also what
// a world's blend weights are learned on (learn-blend-weights.ts).
// More requests per user (services.ranker.replayCuts > 1): the replay's training world is split
// again (each user's last 20% of it held out), its own generators prepared on that, and asked
// again; and so on. Each cut's generators see only interactions before that cut, so no request's
// candidates or features come from what labels it.
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { DEFAULT_RANKER_TOP_N, snapshotsDirOf } from '../../../libs/config/mesh.js';
import { itemCatalogOf } from '../../../libs/blend/catalog.js';
import { policyFromConfig, type BlendPolicy } from '../../../libs/blend/policy.js';
import type { BlendCandidate, ItemCatalog } from '../../../libs/blend/types.js';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { popularity } from '../../../libs/data/batch/jobs/popularity.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS, readWorldManifest } from '../../../libs/data/world.js';
import { buildSplitWorld } from '../../../libs/eval/split-world.js';
import { rankerCatalog } from '../../../libs/ranking/catalog.js';
import type { RankerItem } from '../../../libs/ranking/encoding.js';
import type { CandidateReplay } from '../../../libs/ranking/dataset.js';
import { prepareGenerators } from './prepare-generators.js';
import { serveGenerators } from './serve-generators.js';

/** Each user's held-out share: the split `feedloom eval` uses on imported worlds. */
export const REPLAY_HELDOUT_FRACTION = 0.2;

/** What the blender had for each replayed user after dedupe and filter, before any weights. */
export interface ReplayedAnswers {
  users: {
    user: string;
    /** The user's history is their actions before this; their held-out interactions come after. */
    historyEndMs: number;
    /** Every candidate the filter kept, with every (generator, rank) that proposed it. */
    eligible: BlendCandidate[];
    /** The user's held-out items (what they went on to interact with). */
    heldOut: ReadonlySet<string>;
  }[];
  /** The time of every request: where the replayed world's clock starts. */
  timeMs: number;
  /** The items as the replayed mesh's ranker would have read them. */
  items: ReadonlyMap<string, RankerItem>;
  /** The blender's item catalog (creators for the page rules). */
  catalog: ItemCatalog;
  heldOutFraction: number;
  /** The generators asked (the mesh's enabled ones). */
  generators: string[];
  /** The training world the generators were prepared on (an earlier cut splits it again). */
  dir: string;
}

/** The ranker's topN in this mesh. */
export const rankerTopN = (mesh: MeshConfig) => mesh.services.ranker?.topN ?? DEFAULT_RANKER_TOP_N;

/** How many cuts the ranker's replay makes per user (services.ranker.replayCuts). */
export const replayCutsOf = (mesh: MeshConfig) => mesh.services.ranker?.replayCuts ?? 1;

type ReplayOptions = { fraction?: number; concurrency?: number; log?: (line: string) => void };

/** For every user with held-out interactions: the candidates the blender would have sent the ranker. */
export async function replayCandidates(
  mesh: MeshConfig,
  worldDir: string,
  options: ReplayOptions = {},
): Promise<CandidateReplay> {
  return replayRequests(mesh, await replayAnswers(mesh, worldDir, options), options);
}

/**
 * The ranker's requests in the mesh's policy (its learned weights, when written): the latest cut's,
 * then those of each earlier cut the config asks for (replayed here, each on a split of the one
 * before), labelled only by that cut's own held-out items.
 */
export async function replayRequests(
  mesh: MeshConfig,
  latest: ReplayedAnswers,
  options: ReplayOptions = {},
): Promise<CandidateReplay> {
  const policy = policyFromConfig(mesh);
  const topN = rankerTopN(mesh);
  const out = candidateRequests(latest, policy, topN);
  let previous = latest;
  for (let cut = 1; cut < replayCutsOf(mesh); cut++) {
    options.log?.(`candidate replay: cut ${cut + 1} of ${replayCutsOf(mesh)}, on ${previous.dir}`);
    previous = await replayAnswers(mesh, previous.dir, options);
    out.requests.push(...candidateRequests(previous, policy, topN, cut).requests);
  }
  return out;
}

/**
 * The ranker's requests: each user's eligible candidates in the policy's pre-score order, the top N.
 * An earlier cut's (cut ≥ 1) carry their own items and held-out items.
 */
export function candidateRequests(
  replay: ReplayedAnswers,
  policy: BlendPolicy,
  topN: number,
  cut = 0,
): CandidateReplay {
  return {
    requests: replay.users.map((u) => ({
      user: u.user,
      timeMs: replay.timeMs,
      historyEndMs: u.historyEndMs,
      ...(cut > 0 && { cut, items: replay.items, labelItems: u.heldOut }),
      candidates: policy
        .preScore(u.eligible)
        .slice(0, topN)
        .map((c) => ({
          itemId: c.itemId,
          sources: c.proposals.map((p) => ({ generator: p.generator, rank: p.rank })),
        })),
    })),
    items: replay.items,
    heldOutFraction: replay.heldOutFraction,
  };
}

/**
 * Serves the mesh's generators on the world's own per-user split (training part) and asks them for
 * every user with held-out interactions; keeps what the blender's dedupe and filter leave.
 */
export async function replayAnswers(
  mesh: MeshConfig,
  worldDir: string,
  options: ReplayOptions = {},
): Promise<ReplayedAnswers> {
  const log = options.log ?? (() => {});
  const fraction = options.fraction ?? REPLAY_HELDOUT_FRACTION;
  const split = await buildSplitWorld(worldDir, { fraction }, log);
  // The mesh on the split's training world, without a ranker: the replay asks the generators only.
  const replayMesh: MeshConfig = structuredClone(mesh);
  replayMesh.world = {
    preset: mesh.world.preset,
    seed: mesh.world.seed,
    dir: split.dir,
    existing: true,
    clockSpeed: 1,
  };
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
  // Dedupe and filter do not depend on the weights.
  const policy = policyFromConfig(mesh, { learned: false });
  const users = [...split.heldOut.keys()].sort();
  log(`candidate replay: asking the mesh for ${users.length} users (each holds out the last ${100 * fraction}%) …`);
  const out: ReplayedAnswers['users'] = new Array(users.length);
  const generators = await serveGenerators(replayMesh, async (served) => {
    let next = 0;
    const worker = async () => {
      while (next < users.length) {
        const i = next++;
        const user = await served.context(users[i]);
        const answers = await served.generate(user, `candidate-replay-${i}`);
        out[i] = {
          user: users[i],
          historyEndMs: split.cutMs.get(users[i])!,
          // Held for every user at once: the proposals' reasons (strings) are not needed here.
          eligible: policy.eligible(answers, user, catalog).map((c) => ({
            ...c,
            proposals: c.proposals.map((p) => ({ ...p, reason: '' })),
          })),
          heldOut: split.heldOut.get(users[i])!,
        };
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
    return served.generators;
  });
  return { users: out, timeMs, items, catalog, heldOutFraction: fraction, generators, dir: split.dir };
}

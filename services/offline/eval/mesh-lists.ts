// The mesh's lists on a split's training world: the world is prepared like any other (snapshots,
// mf, two-tower and its index, a first ranker), served all-in-one on ephemeral ports, and every
// generator and the Blender are called over gRPC for each test user. Beside two_tower, the other
// user tower is served and listed too (other-user-tower.ts), so the eval shows both.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import {
  BlenderClient,
  SourceState,
  type BlendResponse,
  type CandidateJourney,
} from '../../../generated/feedloom/v1/blender.js';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { registryDirOf, snapshotsDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { itemCatalogOf } from '../../../libs/blend/catalog.js';
import { policyFromConfig, type BlendPolicy } from '../../../libs/blend/policy.js';
import { learnedWeightsPath, readLearnedWeights, type LearnedWeights } from '../../../libs/blend/learned-weights.js';
import type { ItemCatalog } from '../../../libs/blend/types.js';
import { itemMeta } from '../../../libs/data/batch/jobs/item_meta.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { MAX_QUOTA } from '../../../libs/generator-sdk/validate.js';
import { MAX_LIMIT } from '../../blender/service.js';
import { prepareWorld } from '../trainer/prepare-world.js';
import { startServers } from '../../servers.js';
import { loadGeneratorModule } from '../../generators/registry.js';
import { prepareOtherUserTower, serveOtherUserTower } from './other-user-tower.js';
import { recordedAnswer, type RecordedAnswers } from './replayed-blend.js';
import { sourceFailed } from '../../../libs/blend/source-state.js';

/** Deadlines for the eval: a loaded machine must not change what is measured. */
const EVAL_DEADLINE_MS = 10_000;
const CALL_TIMEOUT_MS = 60_000;
/** The ranker's training budget for the eval: its steps (--min-steps), not the machine's load, decide where it stops. */
const EVAL_RANKER_BUDGET_S = 1_200;

export interface MeshLists {
  /** The training world's learned blend weights, when it has them (an imported log with a ranker). */
  learnedWeights?: LearnedWeights;
  generators: { name: string; kind: string; lists: Map<string, string[]>; errors: number }[];
  /**
   * One per page size: the Blend as served (ranker on as configured), and `preScore`: the same
   * candidates in the blender's pre-score order, as the page would be with the ranker off (only when
   * a ranker is configured).
   */
  blends: {
    limit: number;
    lists: Map<string, string[]>;
    preScore?: Map<string, string[]>;
    /** Per user, where each candidate of the Blend ended: `page`, or its `droppedBy` (`filter:…`, `page:…`). */
    fates: Map<string, Map<string, string>>;
    errors: number;
    unranked: number;
  }[];
  /** With `record`: each test user's context and the blended generators' answers, for replays (eval --variants). */
  recorded?: { answers: Map<string, RecordedAnswers>; catalog: ItemCatalog };
}

/** The mesh config, pointed at the training world with its own snapshots and registry. */
export function meshForWorld(mesh: MeshConfig, dir: string): MeshConfig {
  const out: MeshConfig = structuredClone(mesh);
  out.world = { preset: mesh.world.preset, seed: mesh.world.seed, dir, existing: true, clockSpeed: 1 };
  delete out.registryDir;
  out.generators = out.generators.map((g) => ({ ...g, deadlineMs: EVAL_DEADLINE_MS }));
  out.services.blender = {
    ...out.services.blender,
    fanoutDeadlineMs: EVAL_DEADLINE_MS,
    hydrateDeadlineMs: EVAL_DEADLINE_MS,
  };
  if (out.services.ranker) out.services.ranker = { ...out.services.ranker, deadlineMs: EVAL_DEADLINE_MS };
  return out;
}

export async function meshLists(
  mesh: MeshConfig,
  o: {
    users: readonly string[];
    train: ReadonlyMap<string, readonly string[]>;
    ks: number[];
    /** Seed of the models trained on the world (default: each trainer's, 7). */
    seed?: number;
    /**
     * Learn the world's blend weights and ranker again (their earlier versions go), keeping its
     * snapshots and generator models: for experiments on the blend and the ranker.
     */
    retrainRanker?: boolean;
    /** Leave out the other user tower's row and its training. */
    servedTowerOnly?: boolean;
    /** Keep each user's context and the generators' answers (MeshLists.recorded). */
    record?: boolean;
    log: (line: string) => void;
  },
): Promise<MeshLists> {
  const maxK = Math.max(...o.ks);
  const log = (line: string) => o.log(`  ${line}`);
  if (o.retrainRanker && mesh.services.ranker) {
    o.log(`dropping the training world's ranker and learned blend weights, to learn them again …`);
    await rm(join(registryDirOf(mesh), mesh.services.ranker.model), { recursive: true, force: true });
    await rm(learnedWeightsPath(mesh.world.dir), { force: true });
  }
  o.log(`preparing the training world for the mesh …`);
  // The two-tower model under evaluation trains on every training interaction (as the last-day eval does).
  await prepareWorld(mesh, { log, twoTowerOnAll: true, seed: o.seed, rankerBudgetS: EVAL_RANKER_BUDGET_S });
  const other = o.servedTowerOnly ? undefined : await prepareOtherUserTower(mesh, { seed: o.seed, log });
  // A ranker that failed validation on the training part is not served: pages keep pre-score order.
  const ranker =
    mesh.services.ranker &&
    (await new ModelRegistry(registryDirOf(mesh)).latest(mesh.services.ranker.model, ['published', 'serving']));
  if (mesh.services.ranker && !ranker)
    o.log('no ranker passed validation on the training part: Blend pages are in pre-score order');
  const policy = policyFromConfig(mesh);
  const catalog = mesh.services.ranker || o.record ? await itemCatalog(mesh) : undefined;
  const recorded = o.record ? new Map<string, RecordedAnswers>() : undefined;
  const blended = new Set(mesh.generators.map((g) => g.name));
  const running = await startServers(mesh, { ephemeralPorts: true });
  const otherGenerator = other && (await serveOtherUserTower(mesh, other, running));
  const events = connect(EventsClient, running.addresses.get('events')!, meshChannelOf(mesh));
  const blender = connect(BlenderClient, running.addresses.get('blender')!, meshChannelOf(mesh));
  const generators = await Promise.all(
    mesh.generators.map(async (g) => ({
      name: g.name,
      kind: (await loadGeneratorModule(g.name)).kind,
      client: connect(CandidateGeneratorClient, running.addresses.get(`generator.${g.name}`)!, meshChannelOf(mesh)),
      lists: new Map<string, string[]>(),
      errors: 0,
    })),
  );
  if (otherGenerator)
    generators.push({
      name: otherGenerator.name,
      kind: otherGenerator.kind,
      client: connect(CandidateGeneratorClient, otherGenerator.address, meshChannelOf(mesh)),
      lists: new Map<string, string[]>(),
      errors: 0,
    });
  const blends = [...new Set(o.ks.map((k) => Math.min(k, MAX_LIMIT)))].map((limit) => ({
    limit,
    lists: new Map<string, string[]>(),
    ...(mesh.services.ranker ? { preScore: new Map<string, string[]>() } : {}),
    fates: new Map<string, Map<string, string>>(),
    errors: 0,
    unranked: 0,
  }));
  const blend = (userId: string, limit: number, debug = false) =>
    callUnary(blender, 'blend', { userId, limit, debug, requestId: '' }, { timeoutMs: CALL_TIMEOUT_MS });
  try {
    await untilWarm(() => blend(o.users[0], maxK), !!ranker, o.log);
    for (const [n, userId] of o.users.entries()) {
      const user = await callUnary(
        events,
        'getUserContext',
        { userId, maxActions: 100 },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      // Room for the user's own items, which are left out before the list is cut at K.
      const quota = Math.min(MAX_QUOTA, maxK + (o.train.get(userId)?.length ?? 0));
      const answered = await Promise.all(
        generators.map(async (g) => {
          let candidates: Candidate[] = [];
          try {
            candidates = (
              await callUnary(
                g.client,
                'generate',
                { user, quota, requestId: `eval-${n}` },
                { timeoutMs: CALL_TIMEOUT_MS },
              )
            ).candidates;
          } catch {
            g.errors++;
          }
          g.lists.set(
            userId,
            candidates.map((c) => c.itemId),
          );
          return candidates;
        }),
      );
      recorded?.set(userId, {
        user,
        answers: generators.flatMap((g, i) => (blended.has(g.name) ? [recordedAnswer(g.name, answered[i])] : [])),
      });
      for (const b of blends) {
        let page: BlendResponse | undefined;
        try {
          // The debug trace holds every candidate the page was chosen from, and why each missed it.
          page = await blend(userId, b.limit, true);
        } catch {
          b.errors++;
        }
        if (page && mesh.services.ranker && !page.ranking?.ranked) b.unranked++;
        b.lists.set(userId, page?.items.map((i) => i.itemId) ?? []);
        b.preScore?.set(userId, page?.debug ? preScorePage(page.debug.journeys, b.limit, policy, catalog) : []);
        b.fates.set(
          userId,
          new Map(page?.debug?.journeys.map((j) => [j.itemId, j.position >= 0 ? 'page' : j.droppedBy])),
        );
      }
      if ((n + 1) % 50 === 0) o.log(`  ${n + 1}/${o.users.length} users`);
    }
  } finally {
    events.close();
    blender.close();
    for (const g of generators) g.client.close();
    await otherGenerator?.stop();
    await running.stop();
  }
  return {
    ...(mesh.services.blender.learnedWeights && { learnedWeights: readLearnedWeights(mesh.world.dir) }),
    generators: generators.map(({ name, kind, lists, errors }) => ({ name, kind, lists, errors })),
    blends,
    ...(recorded && catalog && { recorded: { answers: recorded, catalog } }),
  };
}

/**
 * The page the blender would have composed from the same candidates without the ranker: the
 * candidates the filter kept (on the page or passed over by it), in pre-score order, under the
 * page rules.
 */
export function preScorePage(
  journeys: readonly CandidateJourney[],
  limit: number,
  policy: BlendPolicy,
  catalog: ItemCatalog | undefined,
): string[] {
  const kept = journeys
    .filter((j) => j.droppedBy === '' || j.droppedBy.startsWith('page:'))
    .map((j) => ({ itemId: j.itemId, proposals: j.sources, preScore: 0 }));
  return policy.composePage(policy.preScore(kept), limit, catalog).page.map((c) => c.itemId);
}

/** The blender's item catalog (creators for the page rules), from the world's item_meta snapshot. */
async function itemCatalog(mesh: MeshConfig): Promise<ItemCatalog> {
  return itemCatalogOf((await readSnapshot(snapshotsDirOf(mesh), itemMeta)).rows);
}

/** Probes Blend until every source answers OK (and the ranker ranks, when configured), for at most a minute. */
async function untilWarm(
  blend: () => Promise<BlendResponse>,
  ranker: boolean,
  log: (line: string) => void,
): Promise<void> {
  const until = Date.now() + 60_000;
  let notReady: string[] = [];
  do {
    try {
      const page = await blend();
      notReady = page.sources.filter(sourceFailed).map((s) => `${s.generator}: ${s.error || SourceState[s.state]}`);
      if (ranker && !page.ranking?.ranked) notReady.push(`ranker: ${page.ranking?.fallbackReason || 'not ranked'}`);
    } catch (err) {
      notReady = [`blender: ${(err as Error).message}`];
    }
    if (notReady.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < until);
  log(`  not every source is ready after a minute; evaluating anyway (${notReady.join('; ')})`);
}

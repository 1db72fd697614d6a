// The mesh's lists on a split's training world: the world is prepared like any other (snapshots,
// mf, two-tower and its index, a first ranker), served all-in-one on ephemeral ports, and every
// generator and the Blender are called over gRPC for each test user.
import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { BlenderClient, SourceState, type BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { ModelRegistry } from '../../../libs/registry/index.js';
import { trainTwoTower } from '../../../libs/training/train-two-tower.js';
import { MAX_QUOTA } from '../../../libs/generator-sdk/validate.js';
import { MAX_LIMIT } from '../../blender/service.js';
import { prepareWorld } from '../trainer/prepare-world.js';
import { startServers } from '../../servers.js';
import { loadGeneratorModule } from '../../generators/registry.js';

/** Deadlines for the eval: a loaded machine must not change what is measured. */
const EVAL_DEADLINE_MS = 10_000;
const CALL_TIMEOUT_MS = 60_000;

export interface MeshLists {
  generators: { name: string; kind: string; lists: Map<string, string[]>; errors: number }[];
  /** One per page size: the Blend as served (ranker on as configured), debug off. */
  blends: { limit: number; lists: Map<string, string[]>; errors: number; unranked: number }[];
}

/** The mesh config, pointed at the training world with its own snapshots and registry. */
export function meshForWorld(mesh: MeshConfig, dir: string): MeshConfig {
  const out: MeshConfig = structuredClone(mesh);
  out.world = { preset: mesh.world.preset, seed: mesh.world.seed, dir, existing: true };
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
    log: (line: string) => void;
  },
): Promise<MeshLists> {
  const maxK = Math.max(...o.ks);
  const log = (line: string) => o.log(`  ${line}`);
  o.log(`preparing the training world for the mesh …`);
  await trainTwoTowerOnAll(mesh, log);
  await prepareWorld(mesh, { log });
  // A ranker that failed validation on the training part is not served: pages keep pre-score order.
  const ranker =
    mesh.services.ranker &&
    (await new ModelRegistry(registryDirOf(mesh)).latest(mesh.services.ranker.model, ['published', 'serving']));
  if (mesh.services.ranker && !ranker)
    o.log('no ranker passed validation on the training part: Blend pages are in pre-score order');
  const running = await startServers(mesh, { ephemeralPorts: true });
  const events = connect(EventsClient, running.addresses.get('events')!);
  const blender = connect(BlenderClient, running.addresses.get('blender')!);
  const generators = await Promise.all(
    mesh.generators.map(async (g) => ({
      name: g.name,
      kind: (await loadGeneratorModule(g.name)).kind,
      client: connect(CandidateGeneratorClient, running.addresses.get(`generator.${g.name}`)!),
      lists: new Map<string, string[]>(),
      errors: 0,
    })),
  );
  const blends = [...new Set(o.ks.map((k) => Math.min(k, MAX_LIMIT)))].map((limit) => ({
    limit,
    lists: new Map<string, string[]>(),
    errors: 0,
    unranked: 0,
  }));
  const blend = (userId: string, limit: number) =>
    callUnary(blender, 'blend', { userId, limit, debug: false, requestId: '' }, { timeoutMs: CALL_TIMEOUT_MS });
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
      await Promise.all(
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
        }),
      );
      for (const b of blends) {
        let page: BlendResponse | undefined;
        try {
          page = await blend(userId, b.limit);
        } catch {
          b.errors++;
        }
        if (page && mesh.services.ranker && !page.ranking?.ranked) b.unranked++;
        b.lists.set(userId, page?.items.map((i) => i.itemId) ?? []);
      }
      if ((n + 1) % 50 === 0) o.log(`  ${n + 1}/${o.users.length} users`);
    }
  } finally {
    events.close();
    blender.close();
    for (const g of generators) g.client.close();
    await running.stop();
  }
  return { generators: generators.map(({ name, kind, lists, errors }) => ({ name, kind, lists, errors })), blends };
}

/**
 * The two-tower model on every training interaction. The trainer's default holds out the world's
 * last day, which in a per-user split holds only the few users whose history ends there; its
 * settings were chosen elsewhere, so the model under evaluation uses everything (as the last-day
 * eval does). prepareWorld then finds it and only indexes it.
 */
async function trainTwoTowerOnAll(mesh: MeshConfig, log: (line: string) => void): Promise<void> {
  if (!mesh.ann || !mesh.services.viewer) return;
  const registryRoot = registryDirOf(mesh);
  if (await new ModelRegistry(registryRoot).latest('two_tower', ['trained', 'validated', 'published', 'serving']))
    return;
  log('training the two-tower model on every training interaction …');
  await trainTwoTower({ worldDir: mesh.world.dir, registryRoot, holdoutMs: 0, log });
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
      notReady = page.sources
        .filter((s) => s.state !== SourceState.SOURCE_STATE_OK)
        .map((s) => `${s.generator}: ${s.error || SourceState[s.state]}`);
      if (ranker && !page.ranking?.ranked) notReady.push(`ranker: ${page.ranking?.fallbackReason || 'not ranked'}`);
    } catch (err) {
      notReady = [`blender: ${(err as Error).message}`];
    }
    if (notReady.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < until);
  log(`  not every source is ready after a minute; evaluating anyway (${notReady.join('; ')})`);
}

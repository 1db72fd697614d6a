// Staged rollout of a model version (issue 6; docs/ROLLOUT.md). For a two-tower model:
//   1. the viewer loads the new user tower (it polls the registry; we wait until ListVersions has it);
//   2. the indexer builds the version's faiss index (skipped when it exists);
//   3. the canary ANN host loads and serves it;
//   4. guards: canary health, probe error rate, candidate counts and a recall probe against the
//      previous version (guards.ts);
//   5. the other hosts swap one at a time.
// A failed step or guard puts every switched host back on the previous version and marks the
// version rolled_back with the reason. Each state change is recorded in the registry. The ranker
// has no index: ranker-rollout.ts rolls it out by state.
import path from 'node:path';
import { readIndexMeta } from '../../../libs/ann/index-files.js';
import type { AnnHostEndpoint } from '../../../libs/ann/learned-retrieval.js';
import { registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { ITEM_TOWER_FILE } from '../../../libs/features/two-tower.js';
import {
  ArtifactIntegrityError,
  ModelRegistry,
  verifyArtifacts,
  type ModelState,
  type VersionInfo,
} from '../../../libs/registry/index.js';
import { withLockFile } from '../../../libs/registry/fs-atomic.js';
import { runIndexer } from '../../../libs/ann/indexer.js';
import { loadOnHost, mostServed, servedByHosts, serveOnHost, unloadQuietly } from './ann-steps.js';
import { describeProbe, judge, probeCanary, type GuardReport } from './guards.js';
import { MeshClients, sleep, waitFor } from './mesh-clients.js';
import { probeUsers } from './probe-users.js';
import { moveTo, newestIn, stateOf, versionStates } from './registry-states.js';
import { rolloutRanker } from './ranker-rollout.js';
import { startRollout, type RolloutOptions, type RolloutResult } from './rollout-run.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';

export type { RolloutOptions, RolloutResult, RolloutStage } from './rollout-run.js';

/** States a version may be rolled out from (a rolled-back or retired version can be rolled out again). */
const ROLLABLE: readonly ModelState[] = ['published', 'serving', 'retired', 'rolled_back'];

/** Rolls out one version of a model; resolves with the outcome (a guard failure is an outcome, not an error). */
export async function rolloutVersion(options: RolloutOptions): Promise<RolloutResult> {
  const registryDir = options.registryDir ?? registryDirOf(options.mesh);
  const registry = new ModelRegistry(registryDir);
  let info: VersionInfo;
  try {
    info = await pickVersion(registry, options.model, options.version);
    await verifyArtifacts(info);
  } catch (err) {
    if (!(err instanceof ArtifactIntegrityError) || !options.version) throw err;
    // A damaged artifact never reaches a service: the version is refused before any step.
    const state = await stateOf(registry, options.model, options.version).catch(() => undefined);
    if (state !== 'published' && state !== 'serving') throw err;
    const reason = `refused before any step: ${err.message}`;
    await moveTo(registry, options.model, options.version, 'rolled_back', `rollout stopped: ${reason}`);
    options.log?.(`[rollback] ${reason}`);
    return {
      model: options.model,
      version: options.version,
      outcome: 'rolled_back',
      reason,
      stages: [{ stage: 'rollback', atMs: 0, detail: reason }],
    };
  }
  // One rollout or rollback of a model at a time.
  return withLockFile(
    path.join(registryDir, options.model, '.rollout.lock'),
    () =>
      isRankerModel(options.mesh, options.model)
        ? rolloutRanker(options, registry, info)
        : rolloutTwoTower(options, registry, info),
    {
      timeoutMs: 1_000,
      staleMs: 3_600_000,
    },
  ).catch((err: Error) => {
    if (/waiting for the lock/.test(err.message))
      throw new Error(`another rollout or rollback of ${options.model} is running (${err.message})`);
    throw err;
  });
}

export function isRankerModel(mesh: MeshConfig, model: string): boolean {
  return mesh.services.ranker?.model === model;
}

async function rolloutTwoTower(
  options: RolloutOptions,
  registry: ModelRegistry,
  info: VersionInfo,
): Promise<RolloutResult> {
  const { mesh, model, version, log, result, stage } = startRollout(options, info);
  if (!info.manifest.artifacts[ITEM_TOWER_FILE])
    throw new Error(`${model}/${version} has no ${ITEM_TOWER_FILE}: it is not a retrieval model (nothing to index)`);
  const clients = new MeshClients(mesh);
  const guards = { ...mesh.rollout.guards, ...options.guards };
  const timeoutMs = mesh.rollout.loadTimeoutMs;
  try {
    const hosts = clients.annHosts();
    if (hosts.length === 0) throw new Error('the mesh config lists no ANN hosts (ann.hosts)');
    const [canary, ...rest] = hosts;
    const served = await servedByHosts(clients, hosts, model);
    const previous = mostServed(served, version) ?? (await newestIn(registry, model, ['serving'], { except: version }));
    result.previous = previous;
    log(
      `rolling out ${model}/${version} (hosts serve: ${[...served].map(([h, v]) => `${h}=${v || '-'}`).join(', ')}); canary ${canary.name}`,
    );
    if (info.state === 'retired' || info.state === 'rolled_back') {
      // The viewer keeps versions in state serving loaded; an older version needs it to come back.
      await moveTo(registry, model, version, 'serving', `rollout again (was ${info.state})`);
    }

    const switched: AnnHostEndpoint[] = [];
    const fail = async (reason: string, guard?: GuardReport): Promise<RolloutResult> => {
      result.outcome = 'rolled_back';
      result.reason = reason;
      result.guard = guard;
      await putBack(clients, switched, hosts, model, version, previous);
      await moveTo(registry, model, version, 'rolled_back', `rollout stopped: ${reason}`);
      stage(
        'rollback',
        `${reason}; ${previous ? `every host serves ${previous} again` : 'no previous version to go back to'}`,
      );
      return result;
    };

    // 1. The viewer loads the user tower by itself (it polls the registry); we wait until it has it.
    try {
      await waitFor(
        `the viewer to load ${model}/${version}`,
        timeoutMs,
        async () => ((await clients.viewerVersions(model)).includes(version) ? true : undefined),
        250,
      );
    } catch (err) {
      return await fail((err as Error).message);
    }
    stage('viewer', `the viewer holds ${version}`);

    // 2. The index, beside the version in the registry: one per shard the hosts are configured with.
    const shards = Math.max(...hosts.map((h) => h.shard)) + 1;
    if (await isIndexed(info.dir, shards)) {
      stage('index', `${version} is indexed already`);
    } else {
      if (options.indexDelayMs) await sleep(options.indexDelayMs);
      try {
        const built = await runIndexer({
          registryDir: registry.root,
          worldDir: options.worldDir ?? mesh.world.dir,
          model,
          version,
          shards,
        });
        stage(
          'index',
          `built ${built.meta.factory} over ${built.shards.reduce((n, m) => n + m.items, 0)} items${shards > 1 ? ` in ${shards} shards` : ''}`,
        );
      } catch (err) {
        // e.g. an item tower that gives NaN or zero vectors: it must not become an index.
        return await fail(`the indexer refused ${version}: ${(err as Error).message}`);
      }
    }

    // 3. The canary.
    try {
      await loadOnHost(clients, canary, model, version, [previous]);
      switched.push(canary);
      await serveOnHost(clients, canary, model, version);
    } catch (err) {
      return await fail(`canary ${canary.name} could not serve ${version}: ${messageOf(err)}`);
    }
    await moveTo(
      registry,
      model,
      version,
      'serving',
      `canary ${canary.name} serves it${previous ? ` (others serve ${previous})` : ''}`,
    );
    stage('canary', `${canary.name} serves ${version}`);

    // 4. Guards on the canary.
    let report: GuardReport;
    try {
      const users = await probeUsers(clients, options.worldDir ?? mesh.world.dir);
      const health = await clients.health(canary.address, 'feedloom.v1.AnnSearch');
      const viewerHealth = await clients.health(clients.viewerAddress);
      const probed = await probeCanary({ clients, canary, model, version, previous, users, k: mesh.rollout.probeK });
      report = judge(
        health.serving && !viewerHealth.serving ? { serving: false, detail: `viewer ${viewerHealth.detail}` } : health,
        probed.candidate,
        probed.previous,
        guards,
      );
    } catch (err) {
      return await fail(`the canary guards could not run: ${(err as Error).message}`);
    }
    const measured = [report.candidate, report.previous]
      .filter((p) => p !== undefined)
      .map((p) => describeProbe(p!))
      .join(' | ');
    if (!report.passed)
      return await fail(`canary guard failed on ${canary.name}: ${report.failures.join('; ')} (${measured})`, report);
    result.guard = report;
    stage('guards', `passed on ${canary.name}: ${measured}`);

    // 5. The other hosts, one at a time.
    for (const host of rest) {
      try {
        await loadOnHost(clients, host, model, version, [previous]);
        switched.push(host);
        await serveOnHost(clients, host, model, version);
      } catch (err) {
        return await fail(`host ${host.name} could not serve ${version}: ${messageOf(err)}`);
      }
      stage('hosts', `${host.name} serves ${version}`);
    }

    // Every other version that was serving is now retired (still loaded on the hosts, for a quick rollback).
    for (const other of await versionStates(registry, model)) {
      if (other.version !== version && other.state === 'serving')
        await moveTo(registry, model, other.version, 'retired', `replaced by ${version} on every ANN host`);
    }
    stage('done', `every ANN host serves ${version}${previous ? `; ${previous} stays loaded for a rollback` : ''}`);
    return result;
  } finally {
    clients.close();
  }
}

/** Puts the switched hosts back on `previous` and unloads `version` from every host that holds it. */
async function putBack(
  clients: MeshClients,
  switched: AnnHostEndpoint[],
  hosts: AnnHostEndpoint[],
  model: string,
  version: string,
  previous: string | undefined,
): Promise<void> {
  if (previous) {
    for (const host of switched) {
      await loadOnHost(clients, host, model, previous, [version]);
      await serveOnHost(clients, host, model, previous);
    }
  }
  if (previous) for (const host of hosts) await unloadQuietly(clients, host, model, version);
}

/** True when every shard of the version's index exists. */
export async function isIndexed(dir: string, shards: number): Promise<boolean> {
  for (let shard = 0; shard < shards; shard++) if (!(await readIndexMeta(dir, { shard, shards }))) return false;
  return true;
}

async function pickVersion(registry: ModelRegistry, model: string, version?: string): Promise<VersionInfo> {
  if (version) {
    const info = await registry.get(model, version);
    if (!ROLLABLE.includes(info.state)) {
      throw new Error(
        `${model}/${version} is ${info.state}: only a published version can be rolled out (or a retired / rolled_back one again)`,
      );
    }
    return info;
  }
  const newest = await registry.latest(model, ['published']);
  if (!newest)
    throw new Error(`no published version of ${model} in the registry at ${registry.root}; name one with --version`);
  return newest;
}

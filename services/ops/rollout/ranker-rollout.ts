// The ranker's rollout. It has no index and one model in memory: the ranker itself serves the newest
// version that is published or serving and that passes its load checks (services/ranker/
// model-store.ts refuses a corrupt or failing model and keeps the old one). So a rollout is done by
// state: wait until the ranker reports the version (or refuses it), probe it with real Rank calls,
// then mark it serving — or rolled_back, which makes the ranker go back to the previous version.
import { callUnary } from '../../../libs/bootstrap/client.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import { versionNumber, type ModelRegistry, type VersionInfo } from '../../../libs/registry/index.js';
import type { RankerStatus } from '../../../generated/feedloom/v1/ranker.js';
import type { GuardReport, ProbeStats } from './guards.js';
import { MeshClients, waitFor } from './mesh-clients.js';
import { probeUsers, type ProbeUser } from './probe-users.js';
import { moveTo, newestIn, versionStates } from './registry-states.js';
import { startRollout, type RolloutOptions, type RolloutResult } from './rollout-run.js';

export async function rolloutRanker(
  options: RolloutOptions,
  registry: ModelRegistry,
  info: VersionInfo,
): Promise<RolloutResult> {
  const { mesh, model, version, log, result, stage } = startRollout(options, info);
  const clients = new MeshClients(mesh);
  const timeoutMs = mesh.rollout.loadTimeoutMs;
  const guards = { ...mesh.rollout.guards, ...options.guards };
  try {
    const before = await rankerStatus(clients);
    result.previous =
      before.modelVersion && before.modelVersion !== version
        ? before.modelVersion
        : await newestIn(registry, model, ['serving'], { except: version });
    const newer = (await versionStates(registry, model)).find(
      (v) => ['published', 'serving'].includes(v.state) && versionNumber(v.version)! > versionNumber(version)!,
    );
    if (newer)
      throw new Error(
        `${model}/${newer.version} is ${newer.state} and newer, so the ranker would serve it instead of ${version}: roll back ${newer.version} first`,
      );
    if (info.state === 'retired' || info.state === 'rolled_back')
      await moveTo(registry, model, version, 'serving', `rollout again (was ${info.state})`);

    const fail = async (reason: string, guard?: GuardReport): Promise<RolloutResult> => {
      Object.assign(result, { outcome: 'rolled_back', reason, guard });
      await moveTo(registry, model, version, 'rolled_back', `rollout stopped: ${reason}`);
      // rolled_back is not servable: the ranker goes back to the newest version that still is.
      const back = await waitFor(`the ranker to leave ${version}`, timeoutMs, async () => {
        const s = await rankerStatus(clients);
        return s.modelVersion !== version ? s.modelVersion : undefined;
      }).catch((err: Error) => `still ${version} (${err.message})`);
      stage('rollback', `${reason}; the ranker serves ${back || 'nothing'}`);
      return result;
    };

    // The ranker polls the registry; it either swaps the version in or refuses it with a reason.
    const loaded = await waitFor(`the ranker to load or refuse ${model}/${version}`, timeoutMs, async () => {
      const s = await rankerStatus(clients);
      if (s.modelVersion === version) return { ok: true as const };
      const refused = s.refused.find((r) => r.version === version);
      return refused ? { ok: false as const, reason: refused.reason, serving: s.modelVersion } : undefined;
    });
    if (!loaded.ok)
      return await fail(
        `the ranker refused ${version} at load: ${loaded.reason}; it kept serving ${loaded.serving || 'nothing'}`,
      );
    stage('ranker', `the ranker serves ${version}`);

    let report: GuardReport;
    try {
      const health = await clients.health(clients.rankerAddress, 'feedloom.v1.Ranker');
      const probe = await probeRanker(clients, version, await probeUsers(clients, options.worldDir ?? mesh.world.dir));
      const failures: string[] = [];
      if (!health.serving) failures.push(`health: ${health.detail}`);
      const errorRate = probe.requests ? probe.errors / probe.requests : 1;
      if (errorRate > guards.maxErrorRate)
        failures.push(
          `error rate ${(errorRate * 100).toFixed(1)}% (${probe.errors}/${probe.requests}): ${probe.errorSamples.join('; ')}`,
        );
      if (probe.meanCandidates <= 0) failures.push('no scored candidates');
      report = { passed: failures.length === 0, failures, health: health.detail, candidate: probe };
    } catch (err) {
      return await fail(`the ranker guards could not run: ${(err as Error).message}`);
    }
    if (!report.passed) return await fail(`ranker guard failed: ${report.failures.join('; ')}`, report);
    result.guard = report;
    stage('guards', `passed: ${report.candidate.requests} Rank calls, ${report.candidate.errors} errors`);

    await moveTo(registry, model, version, 'serving', 'the ranker serves it; guards passed');
    for (const other of await versionStates(registry, model)) {
      if (other.version !== version && other.state === 'serving')
        await moveTo(registry, model, other.version, 'retired', `replaced by ${version}`);
    }
    stage('done', `the ranker serves ${version}`);
    return result;
  } finally {
    clients.close();
  }
}

export function rankerStatus(clients: MeshClients): Promise<RankerStatus> {
  return callUnary(clients.ranker(), 'getStatus', {}, { timeoutMs: 5_000 });
}

/** Real Rank calls for the probe users: each must answer with the version, a finite score per candidate. */
async function probeRanker(clients: MeshClients, version: string, users: ProbeUser[]): Promise<ProbeStats> {
  // Candidates: every probe user's held-out and recent items (a realistic, overlapping pool).
  const pool = [
    ...new Set(users.flatMap((u) => [...u.heldOut, ...u.context.recentActions.map((a) => a.itemId)])),
  ].slice(0, 200);
  let errors = 0;
  let scored = 0;
  const errorSamples: string[] = [];
  for (const user of users) {
    try {
      const res = await callUnary(
        clients.ranker(),
        'rank',
        {
          user: user.context,
          candidates: pool.map((itemId) => ({ itemId, sources: [] })),
          requestId: '',
          modelVersion: '',
        },
        { timeoutMs: 10_000 },
      );
      if (res.modelVersion !== version) throw new Error(`answered by ${res.modelVersion}, not ${version}`);
      const bad = res.scores.find((s) => ![s.pClick, s.pSave, s.pHide, s.utility].every(Number.isFinite));
      if (bad) throw new Error(`a non-finite score for ${bad.itemId}`);
      scored += res.scores.length;
    } catch (err) {
      errors++;
      if (errorSamples.length < 3) errorSamples.push(`${user.context.userId}: ${messageOf(err)}`);
    }
  }
  const answered = users.length - errors;
  return {
    version,
    requests: users.length,
    errors,
    errorSamples,
    meanCandidates: answered ? scored / answered : 0,
    recall: 0,
  };
}

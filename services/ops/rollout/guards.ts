// The canary guards of a two-tower rollout. Probe requests run the learned generators' own protocol
// (GetVersions → EmbedUser → Search, libs/ann/learned-retrieval.ts) against the canary host only:
// first as a generator would (the version the canary serves), then with the previous version, which
// the canary still holds. The verdict compares the two.
import type { AnnHostEndpoint } from '../../../libs/ann/learned-retrieval.js';
import { LearnedRetrieval } from '../../../libs/ann/learned-retrieval.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { MeshClients } from './mesh-clients.js';
import type { ProbeUser } from './probe-users.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';

export type GuardThresholds = MeshConfig['rollout']['guards'];

export interface ProbeStats {
  version: string;
  requests: number;
  errors: number;
  /** A few of the errors, for the report. */
  errorSamples: string[];
  meanCandidates: number;
  /** Held-out items found in the top k, over all held-out items. */
  recall: number;
}

export interface GuardReport {
  passed: boolean;
  /** Why it failed, one line per guard; empty when passed. */
  failures: string[];
  health: string;
  candidate: ProbeStats;
  previous?: ProbeStats;
}

/** Probes `version` through the canary as a generator would, and `previous` (if any) on the same host. */
export async function probeCanary(options: {
  clients: MeshClients;
  canary: AnnHostEndpoint;
  model: string;
  version: string;
  previous?: string;
  users: ProbeUser[];
  k: number;
}): Promise<{ candidate: ProbeStats; previous?: ProbeStats }> {
  const retrieval = new LearnedRetrieval(
    { viewer: options.clients.viewerAddress, annHosts: [options.canary] },
    { model: options.model, callTimeoutMs: 5_000 },
  );
  try {
    const candidate = await probe(options.version, options.users, async (user) => {
      // Exactly what two_tower does on a request, pinned to the canary.
      const answer = await retrieval.withSyncedHost(async (synced, call) => {
        if (synced.version !== options.version)
          throw new Error(`the canary ${options.canary.name} serves ${synced.version}, not ${options.version}`);
        const { embedding, version } = await retrieval.embedUser(user.context, synced, call);
        if (version !== synced.version)
          throw new Error(`user embedding ${version} differs from index ${synced.version}`);
        const { neighbors } = await retrieval.search(synced, embedding, options.k, {
          exclude: engagedItems(user.context),
          ...call,
        });
        return {
          modelVersion: version,
          candidates: neighbors.map((n) => ({ itemId: n.itemId, score: n.score, reason: '' })),
        };
      });
      return answer.candidates.map((c) => c.itemId);
    });
    if (!options.previous) return { candidate };
    const previous = options.previous;
    const synced = await retrieval.servedVersion(options.canary);
    const old = { ...synced, version: previous };
    const baseline = await probe(previous, options.users, async (user) => {
      const { embedding } = await retrieval.embedUser(user.context, old);
      return (await retrieval.search(old, embedding, options.k, { exclude: engagedItems(user.context) })).neighbors.map(
        (n) => n.itemId,
      );
    });
    return { candidate, previous: baseline };
  } finally {
    retrieval.close();
  }
}

async function probe(
  version: string,
  users: ProbeUser[],
  ask: (user: ProbeUser) => Promise<string[]>,
): Promise<ProbeStats> {
  let errors = 0;
  let candidates = 0;
  let answered = 0;
  let hits = 0;
  let heldOut = 0;
  const errorSamples: string[] = [];
  for (const user of users) {
    try {
      const items = await ask(user);
      answered++;
      candidates += items.length;
      const got = new Set(items);
      heldOut += user.heldOut.length;
      hits += user.heldOut.filter((id) => got.has(id)).length;
    } catch (err) {
      errors++;
      if (errorSamples.length < 3) errorSamples.push(`${user.context.userId}: ${messageOf(err)}`);
    }
  }
  return {
    version,
    requests: users.length,
    errors,
    errorSamples,
    meanCandidates: answered ? candidates / answered : 0,
    recall: heldOut ? hits / heldOut : 0,
  };
}

/** The verdict: every guard that fails adds a line saying what was measured and what was required. */
export function judge(
  health: { serving: boolean; detail: string },
  candidate: ProbeStats,
  previous: ProbeStats | undefined,
  guards: GuardThresholds,
): GuardReport {
  const failures: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (!health.serving) failures.push(`health: ${health.detail}`);
  const errorRate = candidate.requests ? candidate.errors / candidate.requests : 1;
  if (errorRate > guards.maxErrorRate) {
    failures.push(
      `error rate ${pct(errorRate)} (${candidate.errors}/${candidate.requests}) is above ${pct(guards.maxErrorRate)}${candidate.errorSamples.length ? `: ${candidate.errorSamples.join('; ')}` : ''}`,
    );
  }
  if (candidate.meanCandidates <= 0) failures.push('candidate count: no candidates');
  else if (
    previous &&
    previous.meanCandidates > 0 &&
    candidate.meanCandidates < guards.minCandidateRatio * previous.meanCandidates
  ) {
    failures.push(
      `candidate count ${candidate.meanCandidates.toFixed(1)} per request is below ${guards.minCandidateRatio} × ${previous.meanCandidates.toFixed(1)} of ${previous.version}`,
    );
  }
  if (candidate.recall < guards.minRecall)
    failures.push(`recall probe ${pct(candidate.recall)} is below the floor ${pct(guards.minRecall)}`);
  if (previous && candidate.recall < (1 - guards.maxRecallDrop) * previous.recall) {
    failures.push(
      `recall probe ${pct(candidate.recall)} is below ${pct(1 - guards.maxRecallDrop)} of ${previous.version}'s ${pct(previous.recall)} (largest drop allowed: ${pct(guards.maxRecallDrop)})`,
    );
  }
  return { passed: failures.length === 0, failures, health: health.detail, candidate, previous };
}

/** One line for logs and the registry note. */
export function describeProbe(p: ProbeStats): string {
  return `${p.version}: recall ${(p.recall * 100).toFixed(1)}%, ${p.meanCandidates.toFixed(1)} candidates/request, ${p.errors}/${p.requests} errors`;
}

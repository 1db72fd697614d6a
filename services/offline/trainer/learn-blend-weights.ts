// A world's blend weights, learned on its own training data: the blender's replayed candidates
// (candidate-replay.ts: each user's last share of the training interactions held out, the mesh's
// generators asked on the rest). Coordinate ascent over per-generator weights (libs/blend/tune-weights.ts)
// maximizes recall of the pre-score page on half of those users and reports the other half, so a
// gain that is only fitted noise shows. No test user of `feedloom eval` and none of its held-out
// items are read: on the eval's training world, this replay holds out part of the training part.
import { createHash } from 'node:crypto';
import type { BlendPolicy } from '../../../libs/blend/policy.js';
import type { LearnedWeights } from '../../../libs/blend/learned-weights.js';
import type { BlendCandidate } from '../../../libs/blend/types.js';
import { tuneWeights } from '../../../libs/blend/tune-weights.js';
import { mean, recallCappedAtK } from '../../../libs/eval/metrics.js';
import type { ReplayedAnswers } from './candidate-replay.js';

/** Page sizes whose recall is averaged: the feed's pages and the ranker's whole request (topN). */
const PAGE_KS = [20, 100];

/**
 * One user's candidates, laid out to be scored for many weightings: each proposal's generator
 * and reciprocal rank, so the pre-score (Σ weight / (rrfK + rank + 1)) is a weighted sum.
 */
export interface ScoringUser {
  eligible: BlendCandidate[];
  heldOut: ReadonlySet<string>;
  propCandidate: Int32Array;
  propGenerator: Int32Array;
  propReciprocal: Float64Array;
}

export function learnBlendWeights(
  replay: ReplayedAnswers,
  policy: BlendPolicy,
  topN: number,
  log: (line: string) => void = () => {},
): LearnedWeights {
  const generators = replay.generators;
  const ks = [...new Set([...PAGE_KS.filter((k) => k < topN), topN])];
  // Two fixed halves by a hash of the user id: the same on every run.
  const half = (u: string) => (createHash('sha1').update(u).digest()[0] & 1 ? 'holdout' : 'tune');
  const halves = { tune: [] as ScoringUser[], holdout: [] as ScoringUser[] };
  for (const u of replay.users)
    if (u.heldOut.size > 0) halves[half(u.user)].push(scoringUser(u, generators, policy.rrfK));
  const objective = (weights: ReadonlyMap<string, number>, which: 'tune' | 'holdout') => {
    const w = Float64Array.from(generators, (g) => weights.get(g) ?? 1);
    return mean(
      halves[which].map((u) => {
        const page = preScorePage(u, w, policy, replay, topN);
        return mean(ks.map((k) => recallCappedAtK(page, u.heldOut, k)));
      }),
    );
  };
  log(`learning blend weights on ${halves.tune.length} replayed users (checked on ${halves.holdout.length} others) …`);
  const tuning = tuneWeights(generators, Object.fromEntries(policy.weights), objective);
  return {
    weights: tuning.weights,
    objective: `mean recall@${ks.join(', @')} of the pre-score page (the page of ${topN} the ranker reorders), per user`,
    before: tuning.before,
    after: tuning.after,
    users: { tune: halves.tune.length, holdout: halves.holdout.length },
    learnedAt: new Date().toISOString(),
  };
}

export function scoringUser(u: ReplayedAnswers['users'][number], generators: string[], rrfK: number): ScoringUser {
  const index = new Map(generators.map((g, i) => [g, i]));
  const n = u.eligible.reduce((s, c) => s + c.proposals.length, 0);
  const out: ScoringUser = {
    eligible: u.eligible,
    heldOut: u.heldOut,
    propCandidate: new Int32Array(n),
    propGenerator: new Int32Array(n),
    propReciprocal: new Float64Array(n),
  };
  let p = 0;
  u.eligible.forEach((c, i) => {
    for (const proposal of c.proposals) {
      out.propCandidate[p] = i;
      out.propGenerator[p] = index.get(proposal.generator) ?? -1;
      out.propReciprocal[p] = 1 / (rrfK + proposal.rank + 1);
      p++;
    }
  });
  return out;
}

/**
 * The user's page under weights w, as the policy composes it: its pre-score order (the same sum,
 * best first, ties by item id) under its page rules. Only the head of the order can reach the
 * page, so only that is handed to composePage.
 */
export function preScorePage(
  u: ScoringUser,
  w: Float64Array,
  policy: BlendPolicy,
  replay: Pick<ReplayedAnswers, 'catalog'>,
  limit: number,
): string[] {
  const score = new Float64Array(u.eligible.length);
  for (let p = 0; p < u.propCandidate.length; p++) {
    const g = u.propGenerator[p];
    score[u.propCandidate[p]] += (g < 0 ? 1 : w[g]) * u.propReciprocal[p];
  }
  const order = Array.from(score.keys()).sort(
    (a, b) => score[b] - score[a] || (u.eligible[a].itemId < u.eligible[b].itemId ? -1 : 1),
  );
  const head = order.slice(0, 3 * limit).map((i) => u.eligible[i]);
  return policy.composePage(head, limit, replay.catalog).page.map((c) => c.itemId);
}

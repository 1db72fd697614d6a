import { status as grpcStatus } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { RankingStatus } from '../../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { RankerClient } from '../../../generated/feedloom/v1/ranker.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { codeOf, messageOf } from '../../../libs/bootstrap/errors.js';
import type { ServingPlan } from '../../../libs/blend/policy.js';
import type { BlendCandidate } from '../../../libs/blend/types.js';

export interface RankerEndpoint {
  client: RankerClient;
  /** How many of the pre-scored candidates are sent to be ranked. */
  topN: number;
  deadlineMs: number;
}

export interface Ranked {
  /** The ranked top N (best utility first), then the rest in pre-score order. */
  ordered: BlendCandidate[];
  ranking: RankingStatus;
  /** The ranker's utility per ranked item. */
  utilities: Map<string, number>;
  /** Time spent waiting on the ranker's answer (0 when it was not called): not the blender's own time. */
  waitMs: number;
}

const fallback = (ordered: BlendCandidate[], reason: string, waitMs = 0): Ranked => ({
  ordered,
  ranking: { ranked: false, modelVersion: '', fallbackReason: reason },
  utilities: new Map(),
  waitMs,
});

function reasonOf(err: unknown, deadlineMs: number): string {
  const code = codeOf(err);
  const details = messageOf(err);
  if (code === grpcStatus.DEADLINE_EXCEEDED) return `ranker late: no answer within ${deadlineMs} ms`;
  if (code === grpcStatus.UNAVAILABLE) return `ranker unavailable: ${details}`;
  return `ranker failed (${grpcStatus[code] ?? code}): ${details}`;
}

/**
 * Stage 6: the transformer ranker orders the top N pre-scored candidates by its utility. If it is
 * not configured, fails or is late, the pre-score order stands and the reason is reported; the
 * request never fails for it. The blend policy's plan may switch the stage off or change its top N
 * (an experiment's variant).
 */
export async function rank(
  ordered: BlendCandidate[],
  user: UserContext,
  ranker: RankerEndpoint | undefined,
  call: { requestId: string; signal?: AbortSignal },
  plan: ServingPlan['ranker'] = { enabled: true },
): Promise<Ranked> {
  if (!ranker) return fallback(ordered, 'no ranker configured');
  if (!plan.enabled) return fallback(ordered, 'the rank stage is off for this variant');
  if (ordered.length === 0) return fallback(ordered, 'no candidates to rank');
  const top = ordered.slice(0, plan.topN ?? ranker.topN);
  let response;
  const started = performance.now();
  try {
    response = await callUnary(
      ranker.client,
      'rank',
      {
        // The ranker reads the user's actions, locale and request time, not the engaged-items
        // filter. Sent, that filter kept each Blend's candidates alive through scavenges until
        // the next Mark-Compact (the main thread's old space grew ~30 MB/s at 22 Blends/s, 2 MB/s
        // without it; docs/BENCHMARKS.md).
        user: { ...user, engagedFilter: undefined },
        candidates: top.map((c) => ({
          itemId: c.itemId,
          sources: c.proposals.map((p) => ({ generator: p.generator, rank: p.rank })),
        })),
        requestId: call.requestId,
        modelVersion: plan.version ?? '',
      },
      { timeoutMs: ranker.deadlineMs, requestId: call.requestId, signal: call.signal },
    );
  } catch (err) {
    return fallback(ordered, reasonOf(err, ranker.deadlineMs), performance.now() - started);
  }
  const waitMs = performance.now() - started;
  const scores = response.scores;
  if (
    scores.length !== top.length ||
    scores.some((s, i) => s.itemId !== top[i].itemId || !Number.isFinite(s.utility))
  ) {
    return fallback(
      ordered,
      `ranker answer did not match the request (${scores.length} scores for ${top.length} candidates)`,
      waitMs,
    );
  }
  const utilities = new Map(scores.map((s) => [s.itemId, s.utility]));
  const ranked = [...top].sort(
    (a, b) =>
      utilities.get(b.itemId)! - utilities.get(a.itemId)! || b.preScore - a.preScore || (a.itemId < b.itemId ? -1 : 1),
  );
  return {
    ordered: [...ranked, ...ordered.slice(top.length)],
    ranking: { ranked: true, modelVersion: response.modelVersion, fallbackReason: '' },
    utilities,
    waitMs,
  };
}

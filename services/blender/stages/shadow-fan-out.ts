// The fan-out under a blend policy: which endpoints are served (with the policy's quota and
// switch) and which are shadows. Shadows are asked beside the served ones, each under its own
// deadline, and nobody waits for them: the page never holds their candidates, and the Blend's
// answer never waits on them.
import { SourceState, type SourceStatus } from '../../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { BlendPolicy } from '../../../libs/blend/policy.js';
import type { SourceAnswer } from '../../../libs/blend/types.js';
import { fanOut, type GeneratorEndpoint } from './fan-out.js';

/** The endpoints as the policy has them: served (switched on or off, at its quota) and shadow. */
export function endpointsUnder(
  policy: BlendPolicy,
  endpoints: readonly GeneratorEndpoint[],
): { served: GeneratorEndpoint[]; shadows: GeneratorEndpoint[] } {
  const served: GeneratorEndpoint[] = [];
  const shadows: GeneratorEndpoint[] = [];
  for (const g of endpoints) {
    const plan = policy.plan.sources.get(g.name);
    const endpoint = plan ? { ...g, enabled: plan.enabled, quota: plan.quota } : g;
    (plan?.shadow && plan.enabled ? shadows : served).push(endpoint);
  }
  return { served, shadows };
}

export interface ShadowCalls {
  /** Every shadow's answer, once all have settled (each within its own deadline). */
  all: Promise<SourceAnswer[]>;
  /** What each shadow had answered so far: still running ones say so. */
  statusesNow(): SourceStatus[];
}

/** Asks every shadow at once, each on its own with its deadline as its whole budget. */
export function askShadows(
  shadows: readonly GeneratorEndpoint[],
  user: UserContext,
  options: { budgetMs: number; requestId: string; signal?: AbortSignal },
): ShadowCalls {
  const settled = new Map<string, SourceStatus>();
  const all = Promise.all(
    shadows.map(async (g) => {
      const budgetMs = Math.min(g.deadlineMs, options.budgetMs);
      const [answer] = await fanOut([g], user, { ...options, budgetMs });
      settled.set(g.name, answer.status);
      return answer;
    }),
  );
  return {
    all,
    statusesNow: () =>
      shadows.map(
        (g) =>
          settled.get(g.name) ?? {
            generator: g.name,
            state: SourceState.SOURCE_STATE_UNSPECIFIED,
            candidates: 0,
            latencyMs: 0,
            error: 'still running when the page was ready',
            snapshotVersion: '',
            modelVersion: '',
          },
      ),
  };
}

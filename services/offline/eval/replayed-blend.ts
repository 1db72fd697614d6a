import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import type { Candidate, UserContext } from '../../../generated/feedloom/v1/common.js';
import type { BlendPolicy } from '../../../libs/blend/policy.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from '../../../libs/blend/types.js';

/** What a user's Blend starts from: the context and every generator's answer. */
export interface RecordedAnswers {
  user: UserContext;
  answers: SourceAnswer[];
}

/** A generator's recorded answer, as the fan-out would have handed it on (a failed call: no candidates). */
export const recordedAnswer = (generator: string, candidates: Candidate[]): SourceAnswer => ({
  status: {
    generator,
    state: SourceState.SOURCE_STATE_OK,
    candidates: candidates.length,
    latencyMs: 0,
    error: '',
    snapshotVersion: '',
    modelVersion: '',
  },
  candidates,
});

/**
 * The eval's Blend: the blender's own policy (dedupe, filter, pre-score, page) over the answers
 * the generators gave each test user, without the ranker. Dedupe and filters do not depend on the
 * weights: for the full set of generators they run once per user, and weight tuning reuses them.
 */
export class ReplayedBlend {
  private readonly eligibleAll = new Map<string, BlendCandidate[]>();

  constructor(
    private readonly policy: BlendPolicy,
    private readonly catalog: ItemCatalog | undefined,
    private readonly recorded: ReadonlyMap<string, RecordedAnswers>,
    private readonly limit: number,
  ) {}

  /**
   * One user's page (item ids). `without` leaves a generator out; `weights` replaces the policy's
   * (tuning); `quotas` cuts each generator's answer to its served quota (the limit when absent).
   */
  page(
    userId: string,
    o: { without?: string; weights?: ReadonlyMap<string, number>; quotas?: ReadonlyMap<string, number> } = {},
  ): string[] {
    const policy = o.weights ? this.policy.withWeights(o.weights) : this.policy;
    return policy.unrankedPage(this.eligible(userId, o), this.limit, this.catalog).map((c) => c.itemId);
  }

  /**
   * One user's page as the policy's own fan-out would have had the answers: only the generators it
   * serves, each cut to its quota (an experiment's variant: BlendPolicy.served).
   */
  servedPage(userId: string): string[] {
    const { user, answers } = this.recorded.get(userId)!;
    const eligible = this.policy.eligible(this.policy.served(answers), user, this.catalog);
    return this.policy.unrankedPage(eligible, this.limit, this.catalog).map((c) => c.itemId);
  }

  private eligible(userId: string, o: { without?: string; quotas?: ReadonlyMap<string, number> }): BlendCandidate[] {
    const whole = !o.without && !o.quotas;
    const cached = whole ? this.eligibleAll.get(userId) : undefined;
    if (cached) return cached;
    const { user, answers } = this.recorded.get(userId)!;
    let asked = o.without ? answers.filter((a) => a.status.generator !== o.without) : answers;
    if (o.quotas)
      asked = asked.map((a) => ({
        ...a,
        candidates: a.candidates.slice(0, o.quotas!.get(a.status.generator) ?? this.limit),
      }));
    const result = this.policy.eligible(asked, user, this.catalog);
    if (whole) this.eligibleAll.set(userId, result);
    return result;
  }
}

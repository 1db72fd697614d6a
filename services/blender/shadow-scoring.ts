// What one shadow generator's answer would have done to one Blend, worked out after the response
// is sent: its overlap with the served candidates, and whether the candidates only it brought would
// have made the page that served and shadow candidates make together under the same policy (ranked
// by the ranker, in a call of its own, when the policy ranks).
import { SourceState, type SourceStatus } from '../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import type { BlendPolicy } from '../../libs/blend/policy.js';
import type { ItemCatalog, SourceAnswer } from '../../libs/blend/types.js';
import { rank, type RankerEndpoint } from './stages/rank.js';

export interface ShadowOutcome {
  status: SourceStatus;
  candidates: number;
  overlapping: number;
  onlyBrought: number;
  onlyBroughtEligible: number;
  wouldMakePage: number;
  /** The only-brought candidates the ranker scored, and the sum of their utilities. */
  onlyBroughtScored: number;
  onlyBroughtUtility: number;
  /** The counterfactual page's items the ranker scored, and the sum of their utilities. */
  pageScored: number;
  pageUtility: number;
  /** Only-brought candidates were eligible, but the counterfactual was in pre-score order. */
  unscored: boolean;
}

export interface ServedSide {
  answers: SourceAnswer[];
  /** Every item a served generator proposed. */
  ids: ReadonlySet<string>;
  user: UserContext;
  catalog: ItemCatalog | undefined;
  policy: BlendPolicy;
  limit: number;
  ranker: RankerEndpoint | undefined;
  requestId: string;
}

export async function scoreShadow(shadow: SourceAnswer, served: ServedSide): Promise<ShadowOutcome> {
  const outcome: ShadowOutcome = {
    status: shadow.status,
    candidates: shadow.candidates.length,
    overlapping: 0,
    onlyBrought: 0,
    onlyBroughtEligible: 0,
    wouldMakePage: 0,
    onlyBroughtScored: 0,
    onlyBroughtUtility: 0,
    pageScored: 0,
    pageUtility: 0,
    unscored: false,
  };
  if (shadow.status.state !== SourceState.SOURCE_STATE_OK) return outcome;
  const only = new Set(shadow.candidates.map((c) => c.itemId).filter((id) => !served.ids.has(id)));
  outcome.onlyBrought = only.size;
  outcome.overlapping = shadow.candidates.length - only.size;
  if (only.size === 0) return outcome;

  const { policy, user, catalog } = served;
  const eligible = policy.eligible([...served.answers, shadow], user, catalog);
  outcome.onlyBroughtEligible = eligible.filter((c) => only.has(c.itemId)).length;
  if (outcome.onlyBroughtEligible === 0) return outcome;
  const ranked = await rank(
    policy.preScore(eligible),
    user,
    served.ranker,
    { requestId: served.requestId },
    policy.plan.ranker,
  );
  outcome.unscored = !ranked.ranking.ranked;
  const page = policy.composePage(ranked.ordered, served.limit, catalog).page;
  outcome.wouldMakePage = page.filter((c) => only.has(c.itemId)).length;
  for (const [itemId, utility] of ranked.utilities) {
    if (!only.has(itemId)) continue;
    outcome.onlyBroughtScored++;
    outcome.onlyBroughtUtility += utility;
  }
  for (const c of page) {
    const utility = ranked.utilities.get(c.itemId);
    if (utility === undefined) continue;
    outcome.pageScored++;
    outcome.pageUtility += utility;
  }
  return outcome;
}

import type {
  BlendRequest,
  BlendResponse,
  CandidateJourney,
  SourceStatus,
} from '../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import type { EventsClient } from '../../generated/feedloom/v1/events.js';
import { trace } from '@opentelemetry/api';
import type { BlendPolicy, VariantPolicies } from '../../libs/blend/policy.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from '../../libs/blend/types.js';
import { countOverhead, countPage, countSources, ownTimeMs } from './blend-metrics.js';
import { messageOf } from '../../libs/bootstrap/errors.js';
import { sourceAsked } from '../../libs/blend/source-state.js';
import type { ExperimentRecord } from './experiment-record.js';
import { scoreShadow } from './shadow-scoring.js';
import { StageClock } from './stage-clock.js';
import { fanOut, type GeneratorEndpoint } from './stages/fan-out.js';
import { hydrate } from './stages/hydrate.js';
import { rank, type Ranked, type RankerEndpoint } from './stages/rank.js';
import { requireASourceOk } from './stages/require-a-source.js';
import { askShadows, endpointsUnder, type ShadowCalls } from './stages/shadow-fan-out.js';

export interface BlendDeps {
  events: EventsClient;
  generators: GeneratorEndpoint[];
  catalog: () => ItemCatalog | undefined;
  hydrateDeadlineMs: number;
  fanoutDeadlineMs: number;
  /**
   * The blend policy of each set of experiment variants: who is asked and at what quota, dedupe,
   * filter, pre-score, the rank stage and page composition, with the config's weights and rules.
   */
  policies: VariantPolicies;
  /** The transformer ranker; absent keeps the pre-score order. */
  ranker?: RankerEndpoint;
  /** The Blends each variant served, and the shadow generators' scorecards. */
  experiments: ExperimentRecord;
}

interface BlendCall {
  requestId: string;
  signal: AbortSignal;
}

/**
 * The named stages of one Blend, each timed by the clock (metrics, span, debug trace) and followed
 * by what the blender counts or checks after it. hydrate, fan_out and rank call other services;
 * the rest are the blend policy's.
 */
class BlendStages {
  readonly clock = new StageClock();
  /** Each source's status: for the response, and the overhead (the slowest generator's wait is not the blender's time). */
  statuses: SourceStatus[] = [];
  /**
   * The answers themselves, kept past dedupe only when shadows will be scored against them: held to
   * the end of every Blend, a Blend's ~4,400 decoded candidates outlived scavenges and were promoted.
   */
  private servedAnswers: SourceAnswer[] = [];
  /** The shadow generators' calls, running beside the Blend. */
  shadows?: ShadowCalls;

  constructor(
    private readonly deps: BlendDeps,
    private readonly call: BlendCall,
    /** The user's policy, its variants resolved once for the whole Blend. */
    readonly policy: BlendPolicy,
  ) {}

  hydrate(userId: string) {
    return this.clock.run(
      'hydrate',
      1,
      () => hydrate(this.deps.events, userId, { timeoutMs: this.deps.hydrateDeadlineMs, ...this.call }),
      (h) => (h.fetched ? 1 : 0),
    );
  }

  /** The served generators' answers; the shadows are asked too, and not waited for. */
  async fanOut(user: UserContext): Promise<SourceAnswer[]> {
    const { served, shadows } = endpointsUnder(this.policy, this.deps.generators);
    const options = { budgetMs: this.deps.fanoutDeadlineMs, ...this.call };
    const answers = await this.clock.run(
      'fan_out',
      served.length,
      () => {
        const answers = fanOut(served, user, options);
        if (shadows.length > 0) this.shadows = askShadows(shadows, user, options);
        return answers;
      },
      (a) => a.reduce((n, x) => n + x.candidates.length, 0),
    );
    this.statuses = answers.map((a) => a.status);
    if (this.shadows) this.servedAnswers = answers;
    return answers;
  }

  /** Then counts what each source returned, and fails the Blend (UNAVAILABLE) when none answered OK. */
  async dedupe(answers: SourceAnswer[], hydrateWarning: string | undefined): Promise<BlendCandidate[]> {
    const merged = await this.clock.run(
      'dedupe',
      0,
      () => this.policy.dedupe(answers),
      (m) => m.length,
    );
    countSources(answers, merged.length, this.policy.variantLabel);
    requireASourceOk(answers, hydrateWarning);
    return merged;
  }

  filter(merged: BlendCandidate[], user: UserContext, catalog: ItemCatalog | undefined) {
    return this.clock.run(
      'filter',
      merged.length,
      () => this.policy.filter(merged, user, catalog),
      (r) => r.kept.length,
    );
  }

  preScore(kept: BlendCandidate[]) {
    return this.clock.run(
      'pre_score',
      kept.length,
      () => this.policy.preScore(kept),
      (r) => r.length,
    );
  }

  rank(preScored: BlendCandidate[], user: UserContext): Promise<Ranked> {
    return this.clock.run(
      'rank',
      preScored.length,
      () => rank(preScored, user, this.deps.ranker, this.call, this.policy.plan.ranker),
      (r) => r.utilities.size,
    );
  }

  /** Then counts each generator's share of the page, and the blender's own time in the Blend. */
  async composePage(ranked: Ranked, limit: number, catalog: ItemCatalog | undefined) {
    const composed = await this.clock.run(
      'compose_page',
      ranked.ordered.length,
      () => this.policy.composePage(ranked.ordered, limit, catalog),
      (r) => r.page.length,
    );
    countPage(composed.page, this.policy.variantLabel);
    countOverhead(ownTimeMs(this.clock.timings, this.statuses, ranked.waitMs));
    return composed;
  }

  /**
   * After the response: each shadow's answer, once it has one, against what was served (overlap,
   * and the page they would have made together), onto its scorecard. Off the hot path; never fails
   * the Blend.
   */
  scoreShadows(user: UserContext, limit: number, catalog: ItemCatalog | undefined): void {
    if (!this.shadows) return;
    const { deps, policy, servedAnswers: answers, call } = this;
    void this.shadows.all
      .then(async (shadows) => {
        const withCandidates = answers.filter((a) => a.candidates.length > 0);
        const served = {
          answers: withCandidates,
          ids: new Set(withCandidates.flatMap((a) => a.candidates.map((c) => c.itemId))),
          user,
          catalog,
          policy,
          limit,
          ranker: deps.ranker,
          requestId: call.requestId,
        };
        for (const shadow of shadows)
          if (sourceAsked(shadow.status))
            deps.experiments.addShadow(policy.variantLabel, await scoreShadow(shadow, served));
      })
      .catch((err: unknown) => console.error(`[blender] scoring the shadow generators failed: ${messageOf(err)}`));
  }
}

const journeyOf = (c: BlendCandidate, position: number): CandidateJourney => ({
  itemId: c.itemId,
  sources: c.proposals,
  preScore: c.preScore,
  droppedBy: c.droppedBy ?? '',
  position,
});

/**
 * One feed request: the user's policy (its experiment variants) → hydrate → fan out → dedupe →
 * filter → pre-score → rank → compose the page; the shadow generators are scored after it.
 */
export async function runBlend(
  request: BlendRequest,
  limit: number,
  deps: BlendDeps,
  call: BlendCall,
): Promise<BlendResponse> {
  const stages = new BlendStages(deps, call, deps.policies.forUser(request.userId));
  const variants = [...stages.policy.plan.variants];
  trace.getActiveSpan()?.setAttribute('feedloom.variants', stages.policy.variantLabel);
  const { user, warning } = await stages.hydrate(request.userId);
  // The answers are not used past dedupe (stages.statuses holds what the response needs).
  const merged = await stages.dedupe(await stages.fanOut(user), warning);
  const catalog = deps.catalog(); // one catalog for the filter and the page
  // Not destructured: `dropped` of the filter and the page is built only when read (debug).
  const filtered = await stages.filter(merged, user, catalog);
  const preScored = await stages.preScore(filtered.kept);
  const ranked = await stages.rank(preScored, user);
  const composed = await stages.composePage(ranked, limit, catalog);
  const page = composed.page;
  stages.scoreShadows(user, limit, catalog);
  deps.experiments.countBlend(variants);

  const response: BlendResponse = {
    // The score that ordered the item: the ranker's utility, or the pre-score for unranked items.
    items: page.map((c) => ({
      itemId: c.itemId,
      score: ranked.utilities.get(c.itemId) ?? c.preScore,
      sources: c.proposals,
    })),
    sources: stages.statuses,
    ranking: ranked.ranking,
    debug: undefined,
    warnings: warning ? [warning] : [],
    variants,
  };
  if (request.debug) {
    response.debug = {
      user,
      stages: stages.clock.timings,
      journeys: [
        ...page.map((c, i) => journeyOf(c, i)),
        ...composed.dropped.map((c) => journeyOf(c, -1)),
        ...filtered.dropped.map((c) => journeyOf(c, -1)),
      ],
      shadowSources: stages.shadows?.statusesNow() ?? [],
      variants,
    };
  }
  return response;
}

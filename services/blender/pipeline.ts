import type { BlendRequest, BlendResponse, CandidateJourney } from '../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import type { EventsClient } from '../../generated/feedloom/v1/events.js';
import type { BlendPolicy } from '../../libs/blend/policy.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from '../../libs/blend/types.js';
import { countOverhead, countPage, countSources, ownTimeMs } from './blend-metrics.js';
import { StageClock } from './stage-clock.js';
import { fanOut, type GeneratorEndpoint } from './stages/fan-out.js';
import { hydrate } from './stages/hydrate.js';
import { rank, type Ranked, type RankerEndpoint } from './stages/rank.js';
import { requireASourceOk } from './stages/require-a-source.js';

export interface BlendDeps {
  events: EventsClient;
  generators: GeneratorEndpoint[];
  catalog: () => ItemCatalog | undefined;
  hydrateDeadlineMs: number;
  fanoutDeadlineMs: number;
  /** Dedupe, filter, pre-score and page composition, with the config's weights and page rules. */
  policy: BlendPolicy;
  /** The transformer ranker; absent keeps the pre-score order. */
  ranker?: RankerEndpoint;
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
  /** The fan-out's answers, kept for the overhead (the slowest generator's wait is not the blender's time). */
  private answers: SourceAnswer[] = [];

  constructor(
    private readonly deps: BlendDeps,
    private readonly call: BlendCall,
  ) {}

  hydrate(userId: string) {
    return this.clock.run(
      'hydrate',
      1,
      () => hydrate(this.deps.events, userId, { timeoutMs: this.deps.hydrateDeadlineMs, ...this.call }),
      (h) => (h.fetched ? 1 : 0),
    );
  }

  async fanOut(user: UserContext): Promise<SourceAnswer[]> {
    this.answers = await this.clock.run(
      'fan_out',
      this.deps.generators.length,
      () => fanOut(this.deps.generators, user, { budgetMs: this.deps.fanoutDeadlineMs, ...this.call }),
      (a) => a.reduce((n, x) => n + x.candidates.length, 0),
    );
    return this.answers;
  }

  /** Then counts what each source returned, and fails the Blend (UNAVAILABLE) when none answered OK. */
  async dedupe(answers: SourceAnswer[], hydrateWarning: string | undefined): Promise<BlendCandidate[]> {
    const merged = await this.clock.run(
      'dedupe',
      0,
      () => this.deps.policy.dedupe(answers),
      (m) => m.length,
    );
    countSources(answers, merged.length);
    requireASourceOk(answers, hydrateWarning);
    return merged;
  }

  filter(merged: BlendCandidate[], user: UserContext, catalog: ItemCatalog | undefined) {
    return this.clock.run(
      'filter',
      merged.length,
      () => this.deps.policy.filter(merged, user, catalog),
      (r) => r.kept.length,
    );
  }

  preScore(kept: BlendCandidate[]) {
    return this.clock.run(
      'pre_score',
      kept.length,
      () => this.deps.policy.preScore(kept),
      (r) => r.length,
    );
  }

  rank(preScored: BlendCandidate[], user: UserContext): Promise<Ranked> {
    return this.clock.run(
      'rank',
      preScored.length,
      () => rank(preScored, user, this.deps.ranker, this.call),
      (r) => r.utilities.size,
    );
  }

  /** Then counts each generator's share of the page, and the blender's own time in the Blend. */
  async composePage(ranked: Ranked, limit: number, catalog: ItemCatalog | undefined) {
    const composed = await this.clock.run(
      'compose_page',
      ranked.ordered.length,
      () => this.deps.policy.composePage(ranked.ordered, limit, catalog),
      (r) => r.page.length,
    );
    countPage(composed.page);
    countOverhead(ownTimeMs(this.clock.timings, this.answers, ranked.waitMs));
    return composed;
  }
}

const journeyOf = (c: BlendCandidate, position: number): CandidateJourney => ({
  itemId: c.itemId,
  sources: c.proposals,
  preScore: c.preScore,
  droppedBy: c.droppedBy ?? '',
  position,
});

/** One feed request: hydrate → fan out → dedupe → filter → pre-score → rank → compose the page. */
export async function runBlend(
  request: BlendRequest,
  limit: number,
  deps: BlendDeps,
  call: BlendCall,
): Promise<BlendResponse> {
  const stages = new BlendStages(deps, call);
  const { user, warning } = await stages.hydrate(request.userId);
  const answers = await stages.fanOut(user);
  const merged = await stages.dedupe(answers, warning);
  const catalog = deps.catalog(); // one catalog for the filter and the page
  // Not destructured: `dropped` of the filter and the page is built only when read (debug).
  const filtered = await stages.filter(merged, user, catalog);
  const preScored = await stages.preScore(filtered.kept);
  const ranked = await stages.rank(preScored, user);
  const composed = await stages.composePage(ranked, limit, catalog);
  const page = composed.page;

  const response: BlendResponse = {
    // The score that ordered the item: the ranker's utility, or the pre-score for unranked items.
    items: page.map((c) => ({
      itemId: c.itemId,
      score: ranked.utilities.get(c.itemId) ?? c.preScore,
      sources: c.proposals,
    })),
    sources: answers.map((a) => a.status),
    ranking: ranked.ranking,
    debug: undefined,
    warnings: warning ? [warning] : [],
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
    };
  }
  return response;
}

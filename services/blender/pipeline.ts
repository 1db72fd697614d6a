import { performance } from 'node:perf_hooks';
import { context, trace } from '@opentelemetry/api';
import { SourceState, sourceStateToJSON, type BlendRequest, type BlendResponse, type CandidateJourney, type StageTiming } from '../../generated/feedloom/v1/blender.js';
import type { EventsClient } from '../../generated/feedloom/v1/events.js';
import { meter, tracer } from '../../libs/bootstrap/telemetry.js';
import { composePage, type PageRules } from './stages/compose-page.js';
import { dedupe } from './stages/dedupe.js';
import { fanOut, type GeneratorEndpoint } from './stages/fan-out.js';
import { filterCandidates, filterInput } from './stages/filter.js';
import { hydrate } from './stages/hydrate.js';
import { preScore } from './stages/pre-score.js';
import { rank, type RankerEndpoint } from './stages/rank.js';
import { requireASourceOk } from './stages/require-a-source.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from './stages/types.js';

export interface BlendDeps {
  events: EventsClient;
  generators: GeneratorEndpoint[];
  weights: Map<string, number>;
  catalog: () => ItemCatalog | undefined;
  hydrateDeadlineMs: number;
  fanoutDeadlineMs: number;
  rrfK: number;
  pageRules: PageRules;
  /** The transformer ranker; absent keeps the pre-score order. */
  ranker?: RankerEndpoint;
}

const instruments = () => ({
  stage: meter().createHistogram('feedloom.blender.stage.duration', { unit: 'ms', description: 'Time of each blender stage' }),
  kept: meter().createHistogram('feedloom.blender.candidates', { description: 'Candidates after each blender stage' }),
  returned: meter().createCounter('feedloom.blender.candidates.returned', { description: 'Candidates returned by each generator to the blender' }),
  unique: meter().createCounter('feedloom.blender.candidates.kept', { description: 'Candidates kept after dedupe' }),
  failures: meter().createCounter('feedloom.blender.source.failures', { description: 'Generator calls that timed out, failed or were unavailable' }),
  pageItems: meter().createCounter('feedloom.blender.page.items', { description: 'Final page items per proposing generator (sole: it was the only source)' }),
  overhead: meter().createHistogram('feedloom.blender.overhead', {
    unit: 'ms',
    description: "The blender's own time per Blend: every stage minus the waits on the events service, the slowest generator and the ranker",
    advice: { explicitBucketBoundaries: OVERHEAD_BUCKETS_MS },
  }),
});

// Fine below 5 ms, where the overhead target (3 ms p50) sits.
export const OVERHEAD_BUCKETS_MS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 5, 7.5, 10, 15, 20, 30, 50, 100];

/**
 * The blender's own time in one Blend (fan-out, dedupe, filter, blend): the stage times minus the
 * time spent waiting on other services, i.e. hydrate (the events service), the slowest generator
 * call within the fan-out, and the ranker call within the rank stage.
 */
export function ownTimeMs(timings: StageTiming[], answers: SourceAnswer[], rankerWaitMs: number): number {
  const stage = (name: string) => timings.find((t) => t.stage === name)?.ms ?? 0;
  const total = timings.reduce((sum, t) => sum + t.ms, 0);
  const generatorsWait = Math.max(0, ...answers.filter((a) => a.status.state !== SourceState.SOURCE_STATE_DISABLED).map((a) => a.status.latencyMs));
  return Math.max(0, total - stage('hydrate') - Math.min(stage('fan_out'), generatorsWait) - rankerWaitMs);
}

/** Each generator's share of the final page: +1 per page item per generator that proposed it. */
function countPage(page: BlendCandidate[]): void {
  metrics ??= instruments();
  // Summed per label set first: one add per (generator, sole), not one per item and proposal.
  const counts = new Map<string, number>();
  for (const c of page) {
    const sole = c.proposals.length === 1 ? 'true' : 'false';
    for (const p of c.proposals) counts.set(`${sole}|${p.generator}`, (counts.get(`${sole}|${p.generator}`) ?? 0) + 1);
  }
  for (const [key, n] of counts) {
    const at = key.indexOf('|');
    metrics.pageItems.add(n, { generator: key.slice(at + 1), sole: key.slice(0, at) });
  }
}

/** Per-source counters: what each generator returned, and how it failed. */
function countSources(answers: SourceAnswer[], unique: number): void {
  metrics ??= instruments();
  for (const a of answers) {
    metrics.returned.add(a.candidates.length, { generator: a.status.generator });
    if (a.status.state !== SourceState.SOURCE_STATE_OK && a.status.state !== SourceState.SOURCE_STATE_DISABLED) {
      metrics.failures.add(1, { generator: a.status.generator, state: sourceStateToJSON(a.status.state) });
    }
  }
  metrics.unique.add(unique);
}
let metrics: ReturnType<typeof instruments> | undefined;

/** Times each named stage, for metrics, spans and the debug trace. */
class StageClock {
  readonly timings: StageTiming[] = [];
  async run<T>(stage: string, itemsIn: number, fn: () => T | Promise<T>, itemsOut: (r: T) => number): Promise<T> {
    const started = performance.now();
    const span = tracer().startSpan(`blend.${stage}`);
    try {
      // Active while it runs, so the stage's own calls (e.g. each generator) are its children.
      const result = await context.with(trace.setSpan(context.active(), span), fn);
      const ms = performance.now() - started;
      const out = itemsOut(result);
      this.timings.push({ stage, ms, itemsIn, itemsOut: out });
      metrics ??= instruments();
      metrics.stage.record(ms, { stage });
      metrics.kept.record(out, { stage });
      span.setAttribute('feedloom.items_out', out);
      return result;
    } finally {
      span.end();
    }
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
export async function runBlend(request: BlendRequest, limit: number, deps: BlendDeps, call: { requestId: string; signal: AbortSignal }): Promise<BlendResponse> {
  const clock = new StageClock();
  const { user, warning } = await clock.run('hydrate', 1, () => hydrate(deps.events, request.userId, { timeoutMs: deps.hydrateDeadlineMs, ...call }), (h) => (h.fetched ? 1 : 0));
  const answers = await clock.run('fan_out', deps.generators.length, () => fanOut(deps.generators, user, { budgetMs: deps.fanoutDeadlineMs, ...call }), (a) => a.reduce((n, x) => n + x.candidates.length, 0));
  const merged = await clock.run('dedupe', 0, () => dedupe(answers), (m) => m.length);
  countSources(answers, merged.length);
  requireASourceOk(answers, warning);
  const catalog = deps.catalog();
  // Not destructured: `dropped` of the filter and the page is built only when read (debug).
  const filtered = await clock.run('filter', merged.length, () => filterCandidates(merged, filterInput(user, catalog)), (r) => r.kept.length);
  const kept = filtered.kept;
  const preScored = await clock.run('pre_score', kept.length, () => preScore(kept, deps.weights, deps.rrfK), (r) => r.length);
  const { ordered, ranking, utilities, waitMs: rankerWaitMs } = await clock.run('rank', preScored.length, () => rank(preScored, user, deps.ranker, call), (r) => r.utilities.size);
  const composed = await clock.run('compose_page', ordered.length, () => composePage(ordered, limit, deps.pageRules, catalog), (r) => r.page.length);
  const page = composed.page;
  countPage(page);
  metrics!.overhead.record(ownTimeMs(clock.timings, answers, rankerWaitMs));

  const response: BlendResponse = {
    // The score that ordered the item: the ranker's utility, or the pre-score for unranked items.
    items: page.map((c) => ({ itemId: c.itemId, score: utilities.get(c.itemId) ?? c.preScore, sources: c.proposals })),
    sources: answers.map((a) => a.status),
    ranking,
    debug: undefined,
    warnings: warning ? [warning] : [],
  };
  if (request.debug) {
    response.debug = {
      user,
      stages: clock.timings,
      journeys: [...page.map((c, i) => journeyOf(c, i)), ...composed.dropped.map((c) => journeyOf(c, -1)), ...filtered.dropped.map((c) => journeyOf(c, -1))],
    };
  }
  return response;
}

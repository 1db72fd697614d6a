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
}

const instruments = () => ({
  stage: meter().createHistogram('feedloom.blender.stage.duration', { unit: 'ms', description: 'Time of each blender stage' }),
  kept: meter().createHistogram('feedloom.blender.candidates', { description: 'Candidates after each blender stage' }),
  returned: meter().createCounter('feedloom.blender.candidates.returned', { description: 'Candidates returned by each generator to the blender' }),
  unique: meter().createCounter('feedloom.blender.candidates.kept', { description: 'Candidates kept after dedupe' }),
  failures: meter().createCounter('feedloom.blender.source.failures', { description: 'Generator calls that timed out, failed or were unavailable' }),
});

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

/** One feed request: hydrate → fan out → dedupe → filter → pre-score → compose the page. */
export async function runBlend(request: BlendRequest, limit: number, deps: BlendDeps, call: { requestId: string; signal: AbortSignal }): Promise<BlendResponse> {
  const clock = new StageClock();
  const { user, warning } = await clock.run('hydrate', 1, () => hydrate(deps.events, request.userId, { timeoutMs: deps.hydrateDeadlineMs, ...call }), (h) => (h.warning ? 0 : 1));
  const answers = await clock.run('fan_out', deps.generators.length, () => fanOut(deps.generators, user, { budgetMs: deps.fanoutDeadlineMs, ...call }), (a) => a.reduce((n, x) => n + x.candidates.length, 0));
  const merged = await clock.run('dedupe', 0, () => dedupe(answers), (m) => m.length);
  countSources(answers, merged.length);
  const catalog = deps.catalog();
  const { kept, dropped } = await clock.run('filter', merged.length, () => filterCandidates(merged, filterInput(user, catalog)), (r) => r.kept.length);
  const ordered = await clock.run('pre_score', kept.length, () => preScore(kept, deps.weights, deps.rrfK), (r) => r.length);
  const { page, dropped: cut } = await clock.run('compose_page', ordered.length, () => composePage(ordered, limit, deps.pageRules, catalog), (r) => r.page.length);

  const response: BlendResponse = {
    items: page.map((c) => ({ itemId: c.itemId, score: c.preScore, sources: c.proposals })),
    sources: answers.map((a) => a.status),
    ranking: { ranked: false, modelVersion: '', fallbackReason: 'no ranker configured' },
    debug: undefined,
    warnings: warning ? [warning] : [],
  };
  if (request.debug) {
    response.debug = {
      user,
      stages: clock.timings,
      journeys: [...page.map((c, i) => journeyOf(c, i)), ...cut.map((c) => journeyOf(c, -1)), ...dropped.map((c) => journeyOf(c, -1))],
    };
  }
  return response;
}

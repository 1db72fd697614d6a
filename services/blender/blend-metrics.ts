import { sourceStateToJSON, type SourceStatus, type StageTiming } from '../../generated/feedloom/v1/blender.js';
import { meter } from '../../libs/bootstrap/telemetry.js';
import type { BlendCandidate, SourceAnswer } from '../../libs/blend/types.js';
import { sourceAsked, sourceFailed } from '../../libs/blend/source-state.js';
import type { GeneratorEndpoint } from './stages/fan-out.js';

// The blender's metrics, made on first use (after the telemetry has started).

const instruments = () => ({
  stage: meter().createHistogram('feedloom.blender.stage.duration', {
    unit: 'ms',
    description: 'Time of each blender stage',
  }),
  kept: meter().createHistogram('feedloom.blender.candidates', { description: 'Candidates after each blender stage' }),
  returned: meter().createCounter('feedloom.blender.candidates.returned', {
    description: 'Candidates returned by each generator to the blender',
  }),
  unique: meter().createCounter('feedloom.blender.candidates.kept', { description: 'Candidates kept after dedupe' }),
  failures: meter().createCounter('feedloom.blender.source.failures', {
    description: 'Generator calls that timed out, failed or were unavailable',
  }),
  pageItems: meter().createCounter('feedloom.blender.page.items', {
    description: 'Final page items per proposing generator (sole: it was the only source)',
  }),
  overhead: meter().createHistogram('feedloom.blender.overhead', {
    unit: 'ms',
    description:
      "The blender's own time per Blend: every stage minus the waits on the events service, the slowest generator and the ranker",
    advice: { explicitBucketBoundaries: OVERHEAD_BUCKETS_MS },
  }),
});
let metrics: ReturnType<typeof instruments> | undefined;

// Fine below 5 ms, where the overhead target (3 ms p50) sits.
export const OVERHEAD_BUCKETS_MS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 5, 7.5, 10, 15, 20, 30, 50, 100];

/**
 * The blender's own time in one Blend (fan-out, dedupe, filter, blend): the stage times minus the
 * time spent waiting on other services, i.e. hydrate (the events service), the slowest generator
 * call within the fan-out, and the ranker call within the rank stage.
 */
export function ownTimeMs(timings: StageTiming[], sources: SourceStatus[], rankerWaitMs: number): number {
  const stage = (name: string) => timings.find((t) => t.stage === name)?.ms ?? 0;
  const total = timings.reduce((sum, t) => sum + t.ms, 0);
  const generatorsWait = Math.max(0, ...sources.filter(sourceAsked).map((s) => s.latencyMs));
  return Math.max(0, total - stage('hydrate') - Math.min(stage('fan_out'), generatorsWait) - rankerWaitMs);
}

/** One stage's time and the candidates it kept. */
export function countStage(timing: StageTiming): void {
  metrics ??= instruments();
  metrics.stage.record(timing.ms, { stage: timing.stage });
  metrics.kept.record(timing.itemsOut, { stage: timing.stage });
}

/**
 * Per-source counters: what each generator returned, and how it failed; and the candidates left
 * after dedupe. `variant`: the Blend's experiment variants (variantLabel; "none" outside them all).
 */
export function countSources(answers: SourceAnswer[], unique: number, variant: string): void {
  metrics ??= instruments();
  for (const a of answers) {
    metrics.returned.add(a.candidates.length, { generator: a.status.generator, variant });
    if (sourceFailed(a.status)) {
      metrics.failures.add(1, { generator: a.status.generator, state: sourceStateToJSON(a.status.state), variant });
    }
  }
  metrics.unique.add(unique, { variant });
}

/** Each generator's share of the final page: +1 per page item per generator that proposed it (and the Blend's variants). */
export function countPage(page: BlendCandidate[], variant: string): void {
  metrics ??= instruments();
  // Summed per label set first: one add per (generator, sole), not one per item and proposal.
  const counts = new Map<string, number>();
  for (const c of page) {
    const sole = c.proposals.length === 1 ? 'true' : 'false';
    for (const p of c.proposals) counts.set(`${sole}|${p.generator}`, (counts.get(`${sole}|${p.generator}`) ?? 0) + 1);
  }
  for (const [key, n] of counts) {
    const at = key.indexOf('|');
    metrics.pageItems.add(n, { generator: key.slice(at + 1), sole: key.slice(0, at), variant });
  }
}

/** The blender's own time in one Blend (ownTimeMs). */
export function countOverhead(ms: number): void {
  metrics ??= instruments();
  metrics.overhead.record(ms);
}

// The quota each generator is asked for now, a gauge read when the metrics are collected.
const quotaSets = new Set<GeneratorEndpoint[]>();
let quotaGauge = false;

/**
 * Reports `feedloom.blender.generator.quota` for these generators until the returned function is
 * called: the configured quota, or less while a latency-adaptive one is cut (libs/blend/adaptive-quota.ts).
 */
export function observeQuotas(generators: GeneratorEndpoint[]): () => void {
  quotaSets.add(generators);
  if (!quotaGauge) {
    quotaGauge = true;
    meter()
      .createObservableGauge('feedloom.blender.generator.quota', {
        description:
          'Candidates the blender asks each generator for now (below its configured quota while its latency runs over its target)',
      })
      .addCallback((result) => {
        for (const set of quotaSets)
          for (const g of set) result.observe(g.adaptiveQuota?.quotaOf(g.quota) ?? g.quota, { generator: g.name });
      });
  }
  return () => quotaSets.delete(generators);
}

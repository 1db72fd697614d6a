// What the experiments did on this blender since it started: the Blends each variant served, and
// each shadow generator's scorecard per variant (ExperimentReport, `feedloom experiments report`,
// the status page). The same counts go to the metrics, labelled by generator and variant, for
// Prometheus to add up over replicas.
import type {
  ExperimentReportResponse,
  ShadowScorecard,
  VariantAssignment,
} from '../../generated/feedloom/v1/blender.js';
import { SourceState, sourceStateToJSON } from '../../generated/feedloom/v1/blender.js';
import { meter } from '../../libs/bootstrap/telemetry.js';
import type { ExperimentConfig } from '../../libs/config/experiments.js';
import { percentile } from '../../libs/eval/metrics.js';
import type { ShadowOutcome } from './shadow-scoring.js';

/** Latencies kept per scorecard for its percentiles: the most recent calls. */
const LATENCY_WINDOW = 1_000;

const instruments = () => ({
  blends: meter().createCounter('feedloom.experiments.blends', {
    description: 'Blends served per experiment variant',
  }),
  shadowCalls: meter().createCounter('feedloom.experiments.shadow.calls', {
    description: 'Shadow generator calls, by generator, variant and state',
  }),
  shadowDuration: meter().createHistogram('feedloom.experiments.shadow.duration', {
    unit: 'ms',
    description: 'Shadow generator call latency, by generator and variant',
  }),
  shadowCandidates: meter().createCounter('feedloom.experiments.shadow.candidates', {
    description:
      'Shadow generator candidates by what became of them: returned, overlapping, only_brought, only_brought_eligible, would_make_page',
  }),
});
let metrics: ReturnType<typeof instruments> | undefined;

interface Row {
  card: ShadowScorecard;
  latencies: number[];
  next: number;
  onlyBroughtUtility: number;
  pageUtility: number;
  pageScored: number;
}

const emptyCard = (generator: string, variant: string): ShadowScorecard => ({
  generator,
  variant,
  calls: 0,
  ok: 0,
  timeouts: 0,
  failures: 0,
  latencyP50Ms: 0,
  latencyP99Ms: 0,
  candidates: 0,
  overlapping: 0,
  onlyBrought: 0,
  onlyBroughtEligible: 0,
  wouldMakePage: 0,
  blendsWithPageItems: 0,
  rankerScored: 0,
  onlyBroughtMeanUtility: 0,
  pageMeanUtility: 0,
  unscored: 0,
});

export class ExperimentRecord {
  private readonly sinceMs = Date.now();
  private readonly traffic = new Map<string, number>();
  private readonly rows = new Map<string, Row>();

  constructor(private readonly experiments: readonly ExperimentConfig[]) {}

  /** One Blend served under these variants. */
  countBlend(variants: readonly VariantAssignment[]): void {
    metrics ??= instruments();
    for (const v of variants) {
      const key = `${v.experiment}:${v.variant}`;
      this.traffic.set(key, (this.traffic.get(key) ?? 0) + 1);
      metrics.blends.add(1, { experiment: v.experiment, variant: v.variant });
    }
  }

  /** One shadow generator's outcome on one Blend of users with this variant label. */
  addShadow(variant: string, o: ShadowOutcome): void {
    metrics ??= instruments();
    const generator = o.status.generator;
    const key = `${generator}|${variant}`;
    let row = this.rows.get(key);
    if (!row) {
      row = {
        card: emptyCard(generator, variant),
        latencies: [],
        next: 0,
        onlyBroughtUtility: 0,
        pageUtility: 0,
        pageScored: 0,
      };
      this.rows.set(key, row);
    }
    const card = row.card;
    const state = o.status.state;
    card.calls++;
    if (state === SourceState.SOURCE_STATE_OK) card.ok++;
    else if (state === SourceState.SOURCE_STATE_TIMEOUT) card.timeouts++;
    else card.failures++;
    row.latencies[row.next] = o.status.latencyMs;
    row.next = (row.next + 1) % LATENCY_WINDOW;
    card.candidates += o.candidates;
    card.overlapping += o.overlapping;
    card.onlyBrought += o.onlyBrought;
    card.onlyBroughtEligible += o.onlyBroughtEligible;
    card.wouldMakePage += o.wouldMakePage;
    if (o.wouldMakePage > 0) card.blendsWithPageItems++;
    card.rankerScored += o.onlyBroughtScored;
    row.onlyBroughtUtility += o.onlyBroughtUtility;
    row.pageUtility += o.pageUtility;
    row.pageScored += o.pageScored;
    if (o.unscored) card.unscored++;

    const labels = { generator, variant };
    metrics.shadowCalls.add(1, { ...labels, state: sourceStateToJSON(state) });
    metrics.shadowDuration.record(o.status.latencyMs, labels);
    for (const [kind, n] of [
      ['returned', o.candidates],
      ['overlapping', o.overlapping],
      ['only_brought', o.onlyBrought],
      ['only_brought_eligible', o.onlyBroughtEligible],
      ['would_make_page', o.wouldMakePage],
    ] as const)
      if (n > 0) metrics.shadowCandidates.add(n, { ...labels, kind });
  }

  report(): ExperimentReportResponse {
    const scorecards = [...this.rows.values()]
      .map((row) => ({
        ...row.card,
        latencyP50Ms: percentile(row.latencies, 50),
        latencyP99Ms: percentile(row.latencies, 99),
        onlyBroughtMeanUtility: row.card.rankerScored ? row.onlyBroughtUtility / row.card.rankerScored : 0,
        pageMeanUtility: row.pageScored ? row.pageUtility / row.pageScored : 0,
      }))
      .sort((a, b) => a.generator.localeCompare(b.generator) || a.variant.localeCompare(b.variant));
    const traffic = this.experiments.flatMap((e) =>
      e.variants.map((v) => ({
        experiment: e.name,
        variant: v.name,
        blends: this.traffic.get(`${e.name}:${v.name}`) ?? 0,
      })),
    );
    return { sinceMs: this.sinceMs, scorecards, traffic };
  }
}

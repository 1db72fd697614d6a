// One status snapshot: health of every service, latency, each generator's share of the feed, the
// last eval and the model versions. Collected on demand (no background work while nobody looks),
// at most once per minIntervalMs, one collection at a time.
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { HealthClient } from '../../../generated/grpc/health/v1/health.js';
import { addressOf } from '../../../libs/config/mesh.js';
import { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { kindName } from '../../../libs/generator-sdk/serve.js';
import { readScheduleStatus } from '../scheduler/state.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { describeCallError } from './health-probe.js';
import { fetchExperimentReport, scorecardView } from '../experiments/report.js';
import { readLastEval } from './eval-report.js';
import { FeedSampler, PAGE_ITEMS_METRIC, shareFromMetrics } from './feed-share.js';
import { ClientPool, checkHealth } from './health-probe.js';
import { healthCheckLatency, latencyOf } from './latency.js';
import { ModelProbe } from './models.js';
import { quotaOf } from './quota.js';
import { ScrapeHistory } from './scrapes.js';
import type { ExperimentsView, ServiceStatus, StatusSnapshot } from './status.js';
import { targetsOf, type Target } from './targets.js';

export interface CollectorOptions {
  /** How often the page refreshes itself. */
  refreshMs?: number;
  /** A snapshot younger than this is served again instead of collecting a new one. */
  minIntervalMs?: number;
  /** Time allowed for each health check, scrape and GetVersions call. */
  probeTimeoutMs?: number;
  /** Latency and metric-based shares cover about this much time (difference of two scrapes). */
  windowMs?: number;
  /** Feed-share sampling (used while the blender exports no page-items counter). */
  sampleUsers?: string[];
  samplesPerRound?: number;
  sampleEveryMs?: number;
  samplePages?: number;
}

export class StatusCollector {
  private readonly health: ClientPool<HealthClient>;
  private readonly generators: ClientPool<CandidateGeneratorClient>;
  /** Each generator's kind, as its module declares it (asked once with Describe). */
  private readonly kinds = new Map<string, string>();
  private readonly scrapes: ScrapeHistory;
  private readonly sampler: FeedSampler;
  private readonly models: ModelProbe;
  private readonly options: Required<Omit<CollectorOptions, 'sampleUsers'>>;
  private last?: StatusSnapshot;
  private pending?: Promise<StatusSnapshot>;

  constructor(
    private readonly mesh: MeshConfig,
    options: CollectorOptions = {},
  ) {
    this.options = {
      refreshMs: options.refreshMs ?? 5_000,
      minIntervalMs: options.minIntervalMs ?? 2_000,
      probeTimeoutMs: options.probeTimeoutMs ?? 1_500,
      windowMs: options.windowMs ?? 60_000,
      samplesPerRound: options.samplesPerRound ?? 4,
      sampleEveryMs: options.sampleEveryMs ?? 10_000,
      samplePages: options.samplePages ?? 200,
    };
    this.health = new ClientPool(HealthClient, mesh.security.tls);
    this.generators = new ClientPool(CandidateGeneratorClient, mesh.security.tls);
    this.models = new ModelProbe(mesh.security.tls);
    this.scrapes = new ScrapeHistory(this.options.windowMs);
    this.sampler = new FeedSampler({
      tls: mesh.security.tls,
      users: options.sampleUsers,
      perRound: this.options.samplesPerRound,
      everyMs: this.options.sampleEveryMs,
      keepPages: this.options.samplePages,
      timeoutMs: Math.max(
        5_000,
        this.mesh.services.blender.fanoutDeadlineMs + this.mesh.services.blender.hydrateDeadlineMs + 1_000,
      ),
    });
  }

  /** The current snapshot: a recent one if there is one, else a new collection (shared by concurrent callers). */
  snapshot(): Promise<StatusSnapshot> {
    if (this.last && Date.now() - this.last.generatedAtMs < this.options.minIntervalMs)
      return Promise.resolve(this.last);
    this.pending ??= this.collect().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async collect(): Promise<StatusSnapshot> {
    const started = Date.now();
    const mesh = this.mesh;
    const timeout = this.options.probeTimeoutMs;
    const targets = targetsOf(mesh);
    const blender = targets.find((t) => t.role === 'blender')!;
    const metricsUrls = [...new Set(targets.flatMap((t) => (t.metricsUrl ? [t.metricsUrl] : [])))];
    const generators = mesh.generators.map((g) => g.name);

    // Feed-share sampling, while the blender exports no page-items counter: the first round is
    // awaited so the first view has a share; later rounds finish in the background.
    const metricShare = blender.metricsUrl ? this.scrapes.latest(blender.metricsUrl)?.has(PAGE_ITEMS_METRIC) : false;
    const sampling = metricShare ? Promise.resolve() : this.sampler.maybeSample(mesh);
    const [healths, , , , evalView, models, schedule, experiments] = await Promise.all([
      Promise.all(targets.map((t) => checkHealth(this.health, t.address, timeout))),
      Promise.all(targets.map((t) => this.learnKind(t, timeout))),
      this.sampler.sampledPages === 0 ? sampling : Promise.resolve(),
      this.scrapes.scrapeAll(metricsUrls, timeout),
      readLastEval(mesh.world.dir),
      this.models.collect(mesh, timeout),
      readScheduleStatus(mesh.world.dir),
      this.experiments(timeout),
    ]);

    const grpcServiceCount = new Map<string, number>();
    for (const t of targets) grpcServiceCount.set(t.grpcService, (grpcServiceCount.get(t.grpcService) ?? 0) + 1);
    const ctx = {
      scrapes: this.scrapes,
      blenderMetricsUrl: blender.metricsUrl,
      metricsUrls: metricsUrls.filter((u) => this.scrapes.up.get(u)),
      uniqueGrpcServices: new Set([...grpcServiceCount].filter(([, n]) => n === 1).map(([s]) => s)),
    };
    const blenderScrape = blender.metricsUrl ? this.scrapes.latest(blender.metricsUrl) : undefined;
    const services: ServiceStatus[] = targets.map((t, i) => {
      const h = healths[i];
      const generator =
        t.role === 'generator' ? mesh.generators.find((g) => `generator.${g.name}` === t.name) : undefined;
      const latency =
        latencyOf(t, ctx) ?? (h.health === 'UNREACHABLE' ? undefined : healthCheckLatency(h.ms, t.address));
      return {
        name: t.name,
        role: t.role,
        kind: this.kinds.get(t.name),
        enabled: t.enabled,
        shadow: t.shadow,
        address: t.address,
        health: h.health,
        detail: h.detail,
        checkMs: h.ms,
        latency,
        quota: generator && quotaOf(generator, blenderScrape),
        metricsUrl: t.metricsUrl,
        metricsUp: t.metricsUrl ? (this.scrapes.up.get(t.metricsUrl) ?? false) : undefined,
      };
    });

    const feedShare =
      (blender.metricsUrl ? shareFromMetrics(this.scrapes, blender.metricsUrl, generators) : undefined) ??
      this.sampler.share(generators, addressOf(mesh, mesh.services.blender));

    const notes: string[] = [];
    const down = metricsUrls.filter((u) => !this.scrapes.up.get(u));
    if (metricsUrls.length === 0)
      notes.push('telemetry.metricsPortOffset is 0: no metrics endpoints, so latency is the health-check round trip.');
    else if (down.length === metricsUrls.length)
      notes.push(
        `No metrics endpoint answered (${down.length} tried, e.g. ${down[0]}: ${this.scrapes.errors.get(down[0])}); latency is the health-check round trip.`,
      );
    else if (down.length) {
      const allInOne =
        down.length === metricsUrls.length - 1 &&
        blender.metricsUrl !== undefined &&
        this.scrapes.up.get(blender.metricsUrl);
      notes.push(
        allInOne
          ? `Only the metrics endpoint beside the blender answered (${blender.metricsUrl}), as in all-in-one mode, where one process serves one endpoint; ` +
              "other services' latency comes from it or from the blender's view of each call. All servers share one event loop there, " +
              "so a call's latency includes time spent waiting for the others' work."
          : `${down.length} of ${metricsUrls.length} metrics endpoints did not answer (${down.slice(0, 3).join(', ')}${down.length > 3 ? ', …' : ''}); ` +
              "those services' latency comes from another endpoint, the blender's view of the call, or the health check.",
      );
    }
    if (feedShare.source === 'sampled-blends') {
      notes.push(
        `The blender exports no page-items counter (${PAGE_ITEMS_METRIC}), so the feed share comes from Blend calls this page samples.`,
      );
    }

    const snapshot: StatusSnapshot = {
      generatedAtMs: Date.now(),
      tookMs: Date.now() - started,
      refreshMs: this.options.refreshMs,
      world: { dir: mesh.world.dir, preset: mesh.world.preset },
      services,
      feedShare,
      eval: evalView,
      models,
      schedule,
      experiments,
      notes,
    };
    this.last = snapshot;
    return snapshot;
  }

  /** The blender's experiment report (an operation: the mesh token), or why there is none. */
  private async experiments(timeoutMs: number): Promise<ExperimentsView> {
    const blender = addressOf(this.mesh, this.mesh.services.blender);
    try {
      const report = await fetchExperimentReport(blender, meshChannelOf(this.mesh), timeoutMs);
      return {
        ...report,
        available: true,
        blender,
        scorecards: report.scorecards.map(scorecardView),
        descriptions: Object.fromEntries(this.mesh.experiments.map((x) => [x.name, x.description])),
      };
    } catch (err) {
      return {
        available: false,
        reason: `ExperimentReport at ${blender}: ${describeCallError(err as Error, timeoutMs)}`,
      };
    }
  }

  /** A generator's kind, from its Describe; a generator that does not answer yet is asked again next time. */
  private async learnKind(t: Target, timeoutMs: number): Promise<void> {
    if (t.role !== 'generator' || this.kinds.has(t.name)) return;
    const about = await callUnary(this.generators.get(t.address), 'describe', {}, { timeoutMs }).catch(() => undefined);
    const kind = about && kindName(about.kind);
    if (kind) this.kinds.set(t.name, kind);
  }

  close(): void {
    this.health.close();
    this.generators.close();
    this.sampler.close();
    this.models.close();
  }
}

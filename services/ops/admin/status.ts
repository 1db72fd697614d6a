// The shape of /status.json: everything the status page shows, with where each number came from.
import type { EvalReport, EvalRow } from '../../offline/eval/run-eval.js';
import type { ExperimentReportResponse } from '../../../generated/feedloom/v1/blender.js';
import type { ScorecardView } from '../experiments/report.js';
import type { ScheduleStatus } from '../scheduler/state.js';

/** grpc.health.v1 statuses, plus UNREACHABLE when the Check call itself failed. */
export type Health = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE';

export type ServiceRole = 'events' | 'blender' | 'ranker' | 'viewer' | 'ann' | 'generator';

/**
 * Where a latency figure comes from:
 *  - server: rpc_server_duration on the service's own metrics endpoint (its gRPC port + offset);
 *  - server-shared: rpc_server_duration for its gRPC service on another process's endpoint, used
 *    when that service runs once in the mesh (all-in-one serves one endpoint beside the blender);
 *  - blender-client: rpc_client_duration the blender records per call, label feedloom_generator;
 *  - health-check: the round trip of the admin's own grpc.health.v1 Check (no metrics found).
 */
export type LatencySource = 'server' | 'server-shared' | 'blender-client' | 'health-check';

export interface LatencyStats {
  source: LatencySource;
  /** The series used, e.g. rpc_server_duration{rpc_service="feedloom.v1.Blender"} at http://…/metrics. */
  from: string;
  /** "last 60 s" (difference of two scrapes) or "since start" (cumulative). */
  window: string;
  calls: number;
  meanMs: number;
  /** Interpolated inside histogram buckets (exact for health-check, which is one call). */
  p50Ms: number;
  p99Ms: number;
  /** Share of calls that ended with a non-OK status; undefined for health-check. */
  errorShare?: number;
  /** The part of errorShare that ran out of time (DEADLINE_EXCEEDED or CANCELLED). */
  lateShare?: number;
}

export interface ServiceStatus {
  /** As on the command line and in RunningMesh.addresses: events, blender, generator.<name>, viewer, ranker, ann.<host>. */
  name: string;
  role: ServiceRole;
  kind?: string;
  enabled?: boolean;
  /** A shadow generator (generators[].shadow): asked, never on the page. */
  shadow?: boolean;
  address: string;
  health: Health;
  /** Why it is not SERVING, when known. */
  detail?: string;
  /** Round trip of the health Check, ms. */
  checkMs?: number;
  latency?: LatencyStats;
  /** A generator's quota: what the blender asks it for now, out of the configured one. */
  quota?: QuotaView;
  metricsUrl?: string;
  metricsUp?: boolean;
}

export interface QuotaView {
  /** generators[i].quota in the mesh config. */
  configured: number;
  /** feedloom_blender_generator_quota from the blender's endpoint; undefined when it has none. */
  current?: number;
  /** generators[i].latencyTargetMs: the quota is latency-adaptive (libs/blend/adaptive-quota.ts). */
  latencyTargetMs?: number;
}

export interface GeneratorShare {
  name: string;
  /** Page items this generator proposed (alone or with others). */
  proposed: number;
  /** Page items only this generator proposed. */
  sole: number;
  /** proposed / page items. */
  share: number;
  /** sole / page items. */
  soleShare: number;
}

export interface FeedShare {
  /** blender-metric: feedloom_blender_page_items counter; sampled-blends: Blend calls made by this page. */
  source: 'blender-metric' | 'sampled-blends' | 'none';
  from: string;
  window: string;
  pages: number;
  items: number;
  generators: GeneratorShare[];
  note?: string;
}

/** One generator's row of the last eval report, as `feedloom eval --json` writes it. */
export type EvalRowView = EvalRow;

export type EvalView =
  | {
      available: true;
      path: string;
      finishedAt?: string;
      world: string;
      testDay: string;
      users: number;
      ks: number[];
      generators: EvalRowView[];
      blend?: Pick<EvalRow, 'recall' | 'coverage' | 'trueVsOracle'>;
      oracle?: EvalReport['oracle'];
    }
  | { available: false; path: string; reason: string };

export interface RegistryVersionView {
  version: string;
  state: string;
  createdAtMs?: number;
  history: { state: string; atMs: number; note: string }[];
  /** Set when the version folder could not be read. */
  error?: string;
}

export interface ModelsView {
  registry: {
    dir: string;
    available: boolean;
    reason?: string;
    models: { model: string; versions: RegistryVersionView[] }[];
  };
  annHosts: {
    name: string;
    address: string;
    reachable: boolean;
    error?: string;
    models: {
      model: string;
      servingVersion: string;
      loadedVersions: string[];
      items: number;
      dim: number;
      indexType: string;
    }[];
  }[];
  viewer?: {
    address: string;
    reachable: boolean;
    error?: string;
    versions: { model: string; version: string; dim: number; loadedAtMs: number }[];
  };
}

/** The blender's ExperimentReport, with each scorecard's shares and each experiment's description. */
export type ExperimentsView =
  | (Omit<ExperimentReportResponse, 'scorecards'> & {
      available: true;
      blender: string;
      scorecards: ScorecardView[];
      descriptions: Record<string, string>;
    })
  | { available: false; reason: string };

export interface StatusSnapshot {
  generatedAtMs: number;
  /** How long collecting this snapshot took. */
  tookMs: number;
  /** How often the page asks for a new one. */
  refreshMs: number;
  world: { dir: string; preset: string };
  services: ServiceStatus[];
  feedShare: FeedShare;
  eval: EvalView;
  models: ModelsView;
  /** The scheduler's jobs: last and next run, result (<world>/schedule/state.json), and who leads. */
  schedule: ScheduleStatus;
  /** Variant traffic and the shadow generators' scorecards. */
  experiments: ExperimentsView;
  /** Things the page could not find, in words (e.g. a metrics endpoint that is down). */
  notes: string[];
}

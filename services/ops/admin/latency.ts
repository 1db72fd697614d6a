// Each service's latency, from the best source that has it (see LatencySource).
import { histogramDelta, histogramOf, histogramQuantile, type Histogram, type Labels } from './prometheus.js';
import type { ScrapeHistory } from './scrapes.js';
import type { LatencyStats } from './status.js';
import type { Target } from './targets.js';

const isError = (l: Labels) => (l.rpc_grpc_status_code ?? '0') !== '0';
/** DEADLINE_EXCEEDED (4) or CANCELLED (1): the call ran out of time rather than failed. */
const isLate = (l: Labels) => l.rpc_grpc_status_code === '4' || l.rpc_grpc_status_code === '1';

const selector = (family: string, labels: Labels) =>
  `${family}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

/**
 * Latency from one histogram family on one endpoint: over the scrape window when calls happened
 * in it, else since the process started. Series differing in other labels (method, status) are summed.
 */
export function latencyFrom(
  scrapes: ScrapeHistory,
  url: string,
  family: string,
  labels: Labels,
  source: LatencyStats['source'],
): LatencyStats | undefined {
  const span = scrapes.span(url);
  if (!span) return undefined;
  const match = (l: Labels) => Object.entries(labels).every(([k, v]) => l[k] === v);
  const total = histogramOf(span.latest, family, match);
  if (!total || total.count <= 0) return undefined;
  // Calls in a subset (errors, late ones) over the same window as the total.
  const countOf = (subset: (l: Labels) => boolean, windowed: boolean) => {
    const now = histogramOf(span.latest, family, (l) => match(l) && subset(l));
    if (!now) return 0;
    return windowed
      ? histogramDelta(now, span.base ? histogramOf(span.base, family, (l) => match(l) && subset(l)) : undefined).count
      : now.count;
  };
  let h: Histogram = total;
  let window = 'since start';
  if (span.base) {
    const delta = histogramDelta(total, histogramOf(span.base, family, match));
    if (delta.count > 0 && delta !== total) {
      h = delta;
      window = span.window;
    }
  }
  const windowed = h !== total;
  return {
    source,
    from: `${selector(family, labels)} at ${url}`,
    window,
    calls: h.count,
    meanMs: h.sum / h.count,
    p50Ms: histogramQuantile(h, 0.5),
    p99Ms: histogramQuantile(h, 0.99),
    errorShare: countOf(isError, windowed) / h.count,
    lateShare: countOf(isLate, windowed) / h.count,
  };
}

export interface LatencyContext {
  scrapes: ScrapeHistory;
  /** The blender's metrics endpoint (in all-in-one, the whole process's). */
  blenderMetricsUrl?: string;
  /** Every endpoint scraped this round. */
  metricsUrls: string[];
  /** gRPC services that exactly one configured service serves (safe to read from a shared endpoint). */
  uniqueGrpcServices: Set<string>;
}

/**
 * Picks the first source that has numbers: its own endpoint; any endpoint whose series carry its
 * server name; for a generator, the blender's view of its calls; for a service that runs once, a
 * shared endpoint; else undefined (the caller falls back to the health check).
 */
export function latencyOf(target: Target, ctx: LatencyContext): LatencyStats | undefined {
  const server = { rpc_service: target.grpcService };
  if (target.metricsUrl) {
    const own = latencyFrom(ctx.scrapes, target.metricsUrl, 'rpc_server_duration', server, 'server');
    if (own) return own;
  }
  // Servers that label their histogram with their name (feedloom_server, as on their spans) can be
  // told apart on any endpoint, also where one process serves many (all-in-one).
  for (const url of ctx.metricsUrls) {
    const named = latencyFrom(
      ctx.scrapes,
      url,
      'rpc_server_duration',
      { feedloom_server: target.name },
      url === target.metricsUrl ? 'server' : 'server-shared',
    );
    if (named) return named;
  }
  if (target.role === 'generator' && ctx.blenderMetricsUrl) {
    const name = target.name.slice('generator.'.length);
    const seen = latencyFrom(
      ctx.scrapes,
      ctx.blenderMetricsUrl,
      'rpc_client_duration',
      { rpc_method: 'generate', feedloom_generator: name },
      'blender-client',
    );
    if (seen) return seen;
  }
  if (ctx.uniqueGrpcServices.has(target.grpcService)) {
    for (const url of ctx.metricsUrls) {
      if (url === target.metricsUrl) continue;
      const shared = latencyFrom(ctx.scrapes, url, 'rpc_server_duration', server, 'server-shared');
      if (shared) return shared;
    }
  }
  if (target.role === 'events' && ctx.blenderMetricsUrl) {
    return latencyFrom(
      ctx.scrapes,
      ctx.blenderMetricsUrl,
      'rpc_client_duration',
      { rpc_method: 'getUserContext' },
      'blender-client',
    );
  }
  return undefined;
}

/** The last resort: the admin's own health Check, one call. */
export function healthCheckLatency(ms: number, address: string): LatencyStats {
  return {
    source: 'health-check',
    from: `grpc.health.v1.Health/Check to ${address}`,
    window: 'one call, now',
    calls: 1,
    meanMs: ms,
    p50Ms: ms,
    p99Ms: ms,
  };
}

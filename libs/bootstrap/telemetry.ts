import { context, metrics, propagation, trace, type Context } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

/**
 * OpenTelemetry for a feedloom process. Quiet by default: spans are exported only when an
 * OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT) or span processors are passed in.
 */
export interface TelemetryOptions {
  serviceName: string;
  /** Serve Prometheus metrics at http://host:port/metrics. */
  prometheus?: { host: string; port: number };
  spanProcessors?: SpanProcessor[];
  metricReaders?: IMetricReader[];
}

export interface Telemetry {
  /** Where Prometheus can scrape this process, if anywhere. */
  metricsUrl?: string;
  shutdown(): Promise<void>;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const otlp = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const readers: IMetricReader[] = [...(options.metricReaders ?? [])];
  if (options.prometheus)
    readers.push(new PrometheusExporter({ host: options.prometheus.host, port: options.prometheus.port }));
  if (otlp)
    readers.push(
      new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: 15_000 }),
    );
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    instrumentations: [],
    // Leaving spanProcessors unset lets the SDK build the OTLP span exporter from the environment.
    ...(otlp && !options.spanProcessors ? {} : { spanProcessors: options.spanProcessors ?? [] }),
    metricReaders: readers,
  });
  sdk.start();
  return {
    metricsUrl: options.prometheus ? `http://${options.prometheus.host}:${options.prometheus.port}/metrics` : undefined,
    shutdown: () => sdk.shutdown(),
  };
}

/** Histogram buckets for latencies in ms: fine enough at the low end for sub-millisecond calls. */
export const LATENCY_BUCKETS_MS = [
  0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 40, 60, 80, 120, 200, 300, 500, 1000, 2000, 4096,
];

export const tracer = () => trace.getTracer('feedloom');
export const meter = () => metrics.getMeter('feedloom');

const metadataSetter = { set: (md: Metadata, key: string, value: string) => md.set(key, value) };
const metadataGetter = {
  get: (md: Metadata, key: string) => {
    const values = md.get(key);
    return values.length ? values.map(String) : undefined;
  },
  keys: (md: Metadata) => Object.keys(md.getMap()),
};

/** Writes the active trace context into outgoing gRPC metadata. */
export function injectTraceContext(md: Metadata, ctx: Context = context.active()): void {
  propagation.inject(ctx, md, metadataSetter);
}

/** Reads a caller's trace context from incoming gRPC metadata. */
export function extractTraceContext(md: Metadata): Context {
  return propagation.extract(context.active(), md, metadataGetter);
}

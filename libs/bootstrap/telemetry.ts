import { context, metrics, propagation, trace, type Context } from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';

/**
 * OpenTelemetry for a feedloom process. Quiet by default: spans are exported only when an
 * OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT) or span processors are passed in.
 */
export interface TelemetryOptions {
  serviceName: string;
  spanProcessors?: SpanProcessor[];
  metricReaders?: IMetricReader[];
}

export interface Telemetry {
  shutdown(): Promise<void>;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const fromEnv = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    instrumentations: [],
    // Leaving spanProcessors unset lets the SDK build the OTLP exporter from the environment.
    ...(fromEnv && !options.spanProcessors ? {} : { spanProcessors: options.spanProcessors ?? [] }),
    ...(options.metricReaders ? { metricReaders: options.metricReaders } : {}),
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

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

import { z } from 'zod';

/**
 * Limits every gRPC server enforces on its callers (mesh config `serverLimits`), so no client can
 * hold a call, a connection or a stream slot forever. grpc-js has no server-side ping enforcement
 * (`grpc.http2.min_ping_interval_without_data_ms` is a grpc-core option it ignores): a connection's
 * age and the server's own keepalive pings bound what a misbehaving connection can hold instead.
 */
export const ServerLimitsSchema = z
  .object({
    /** A call without a deadline, or with a longer one, ends DEADLINE_EXCEEDED after this long. */
    maxDeadlineMs: z.number().int().min(1).max(3_600_000).default(300_000),
    /** Calls one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
    maxConcurrentStreams: z.number().int().min(1).max(100_000).default(256),
    /** A connection is asked to go away (GOAWAY) after this long; clients reconnect. */
    maxConnectionAgeMs: z.number().int().min(1_000).max(86_400_000).default(1_800_000),
    /** How long calls in flight on a connection past its age may still finish. */
    maxConnectionAgeGraceMs: z.number().int().min(0).max(3_600_000).default(300_000),
    /** A connection without calls for this long is closed; unset: never. */
    maxConnectionIdleMs: z.number().int().min(1_000).max(86_400_000).optional(),
    /** The server pings each connection this often and drops it when no ack comes in keepaliveTimeoutMs. */
    keepaliveTimeMs: z.number().int().min(1_000).max(86_400_000).default(60_000),
    keepaliveTimeoutMs: z.number().int().min(100).max(600_000).default(20_000),
  })
  .strict();

export type ServerLimits = z.infer<typeof ServerLimitsSchema>;

export const DEFAULT_SERVER_LIMITS: ServerLimits = ServerLimitsSchema.parse({});

/** The grpc-js server options that enforce the connection and stream limits. */
export function serverChannelOptions(limits: ServerLimits): Record<string, number> {
  return {
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.max_connection_age_ms': limits.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs,
    ...(limits.maxConnectionIdleMs !== undefined ? { 'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs } : {}),
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
  };
}

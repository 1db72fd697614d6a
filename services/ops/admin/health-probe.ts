// grpc.health.v1 Check against every service, timed. One channel per address, kept between
// refreshes; short reconnect backoff so a service that comes back shows up on the next refresh.
import { channelCredentialsOf, type TlsConfig } from '../../../libs/bootstrap/tls.js';
import { credentials, status as grpcStatus, type Client, type ClientOptions, type ServiceError } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
  healthCheckResponse_ServingStatusToJSON,
} from '../../../generated/grpc/health/v1/health.js';
import type { Health } from './status.js';

export interface HealthResult {
  health: Health;
  detail?: string;
  ms: number;
}

const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 300,
  'grpc.min_reconnect_backoff_ms': 300,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/** Clients of one type, one per address, closed together. */
export class ClientPool<C extends Client> {
  private readonly clients = new Map<string, C>();
  constructor(
    private readonly Ctor: new (
      address: string,
      creds: ReturnType<typeof credentials.createInsecure>,
      options?: Partial<ClientOptions>,
    ) => C,
    /** The mesh's TLS (security.tls), when configured. */
    private readonly tls?: TlsConfig,
  ) {}

  has(address: string): boolean {
    return this.clients.has(address);
  }

  get(address: string): C {
    let client = this.clients.get(address);
    if (!client) {
      client = new this.Ctor(address, channelCredentialsOf(this.tls), CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

const KNOWN: Record<string, Health> = {
  SERVING: 'SERVING',
  NOT_SERVING: 'NOT_SERVING',
  UNKNOWN: 'UNKNOWN',
  SERVICE_UNKNOWN: 'SERVICE_UNKNOWN',
};

/** Why a call failed, in words. */
export function describeCallError(err: Partial<ServiceError>, timeoutMs: number): string {
  if (err.code === undefined) return err.message ?? String(err);
  if (err.code === grpcStatus.DEADLINE_EXCEEDED) return `no answer within ${timeoutMs} ms`;
  if (err.code === grpcStatus.UNAVAILABLE) {
    // grpc-js says "No connection established. Last error: Error: connect ECONNREFUSED h:p. Resolution note: …".
    const details = err.details ?? '';
    if (/ECONNREFUSED|connection refused/i.test(details)) return 'connection refused';
    const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details)?.[1]?.trim();
    if (last !== undefined) return last && last !== 'null' ? `unavailable: ${last}` : 'unavailable: no connection';
    return details ? `unavailable: ${details}` : 'unavailable';
  }
  return `${grpcStatus[err.code] ?? err.code}: ${messageOf(err)}`;
}

/**
 * Checks the whole server (service ""), as a load balancer would. On a new channel a first,
 * untimed check opens the connection, so the round trip reported is a call's, not a handshake's.
 */
export async function checkHealth(
  pool: ClientPool<HealthClient>,
  address: string,
  timeoutMs: number,
): Promise<HealthResult> {
  if (!pool.has(address))
    await callUnary(pool.get(address), 'check', { service: '' }, { timeoutMs }).catch(() => undefined);
  const started = performance.now();
  return callUnary(pool.get(address), 'check', { service: '' }, { timeoutMs }).then(
    (response): HealthResult => {
      const ms = performance.now() - started;
      const name = healthCheckResponse_ServingStatusToJSON(response.status);
      return {
        health: KNOWN[name] ?? 'UNKNOWN',
        ms,
        detail: response.status === HealthCheckResponse_ServingStatus.SERVING ? undefined : `health says ${name}`,
      };
    },
    (err: ServiceError): HealthResult => ({
      health: 'UNREACHABLE',
      detail: describeCallError(err, timeoutMs),
      ms: performance.now() - started,
    }),
  );
}

import {
  InterceptingCall,
  Metadata,
  credentials,
  type CallOptions,
  type Interceptor,
  type ChannelOptions,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { DEFAULT_MAX_MESSAGE_BYTES } from './server.js';
import { performance } from 'node:perf_hooks';
import { LATENCY_BUCKETS_MS, injectTraceContext, meter, tracer } from './telemetry.js';
import { RpcError } from './errors.js';
import { inProcessInterceptor } from './in-process.js';
import { serviceConfigFor } from './service-config.js';
import { channelCredentialsOf, type TlsConfig } from './tls.js';
import { status } from '@grpc/grpc-js';

type ClientConstructor<C> = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options?: ChannelOptions,
) => C;

/** What a channel presents: a bearer token on every call, and TLS (security.tls); neither by default. */
export interface ChannelSecurity {
  token?: string;
  tls?: TlsConfig;
}

export interface ConnectOptions extends ChannelSecurity {
  /** false: always over the network, as an outside caller (benchmarks measuring the served path). */
  inProcess?: boolean;
}

/** Sets "authorization: Bearer <token>" on every call of a channel. */
const bearer =
  (token: string): Interceptor =>
  (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });

/**
 * A channel to another service, with keepalive and message limits. The address may be host:port
 * or a DNS target like dns:///generator-popular:50201; DNS targets balance round-robin over replicas
 * and retry a read refused with UNAVAILABLE once, on the next replica (service-config.ts).
 */
export function connect<C extends Client>(
  Ctor: ClientConstructor<C>,
  address: string,
  options: ConnectOptions = {},
): C {
  const local = options.inProcess === false ? undefined : inProcessInterceptor(address);
  // The token first: the in-process path (local) sees the same metadata a network call would.
  const interceptors = [...(options.token ? [bearer(options.token)] : []), ...(local ? [local] : [])];
  const client = new Ctor(address, channelCredentialsOf(options.tls), {
    // A server of this very process (all-in-one mode) is called in-process; see in-process.ts.
    ...(interceptors.length ? { interceptors } : {}),
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    // A restarted peer (a redeployed ranker, a generator back after a crash) is retried within 5 s,
    // not after grpc-js's default backoff of up to 2 minutes.
    'grpc.max_reconnect_backoff_ms': 5_000,
    'grpc.max_receive_message_length': DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.service_config': JSON.stringify(serviceConfigFor(address)),
  });
  // Connect now, not on the first call: a first call with a tight deadline would spend it on the handshake.
  client.getChannel().getConnectivityState(true);
  return client;
}

type UnaryCallback<Res> = (error: ServiceError | null, response: Res) => void;
type LastOverload<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: UnaryCallback<Res>,
) => unknown;

/** The names of a client's unary methods. */
export type UnaryMethodName<C> = {
  [K in keyof C]: C[K] extends LastOverload<any, any> ? K : never;
}[keyof C] &
  string;
type RequestOf<C, K extends keyof C> = C[K] extends LastOverload<infer Req, any> ? Req : never;
type ResponseOf<C, K extends keyof C> = C[K] extends LastOverload<any, infer Res> ? Res : never;

export interface UnaryCallOptions {
  /** Time allowed for the call, in ms. */
  timeoutMs: number;
  /** Cancels the call when it aborts (e.g. the caller's own request was cancelled). */
  signal?: AbortSignal;
  requestId?: string;
  /** Extra metadata to send (e.g. a mark that a call was already forwarded once). */
  metadata?: Record<string, string>;
  /** Extra span and metric attributes, e.g. { 'feedloom.generator': 'popular' }. */
  attributes?: Record<string, string>;
}

const clientDuration = () =>
  meter().createHistogram('rpc.client.duration', {
    unit: 'ms',
    description: 'Duration of outbound RPCs',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
let durationHistogram: ReturnType<typeof clientDuration> | undefined;

/** One unary call as a promise: deadline set, trace context and request id propagated. */
export function callUnary<C extends Client, K extends UnaryMethodName<C>>(
  client: C,
  method: K,
  request: RequestOf<C, K>,
  options: UnaryCallOptions,
): Promise<ResponseOf<C, K>> {
  const attributes = { 'rpc.system': 'grpc', 'rpc.method': method, ...options.attributes };
  const span = tracer().startSpan(`client ${method}`, { kind: SpanKind.CLIENT, attributes });
  const started = performance.now();
  const metadata = new Metadata();
  injectTraceContext(metadata, trace.setSpan(context.active(), span));
  if (options.requestId) metadata.set('x-request-id', options.requestId);
  for (const [k, v] of Object.entries(options.metadata ?? {})) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      span.end();
      reject(new RpcError(status.CANCELLED, 'cancelled before the call started'));
      return;
    }
    const fn = client[method] as unknown as LastOverload<RequestOf<C, K>, ResponseOf<C, K>>;
    const call = fn.call(client, request, metadata, { deadline: Date.now() + options.timeoutMs }, (err, response) => {
      options.signal?.removeEventListener('abort', cancel);
      const code = err ? err.code : 0;
      span.setAttribute('rpc.grpc.status_code', code);
      if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: err.details });
      span.end();
      durationHistogram ??= clientDuration();
      durationHistogram.record(performance.now() - started, { ...attributes, 'rpc.grpc.status_code': code });
      if (err) reject(err);
      else resolve(response);
    }) as { cancel(): void };
    const cancel = () => call.cancel();
    options.signal?.addEventListener('abort', cancel, { once: true });
  });
}

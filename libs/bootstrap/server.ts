import {
  Server,
  status,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, context as otelContext, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { HealthState, ServingStatus } from './health.js';
import { addReflection } from './reflection.js';
import { registerLocalServer, type LocalMethod } from './in-process.js';
import { RpcError, codeOf, invalidArgument } from './errors.js';
import { withoutAbsolutePaths } from './public-paths.js';
import { idProblem } from './validate.js';
import { LATENCY_BUCKETS_MS, meter, tracer } from './telemetry.js';
import { incomingTrace } from './trace-trust.js';
import type { AdmissionController } from './admission.js';
import { bearerOf, operationRefusal, type TokenSet } from './credentials.js';
import { serverCredentialsOf, type TlsConfig } from './tls.js';
import { callDeadline } from './call-deadline.js';
import { earlyRefusal } from './early-refusal.js';
import { DEFAULT_SERVER_LIMITS, serverChannelOptions, type ServerLimits } from '../config/server-limits.js';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** The caller's request id (metadata "x-request-id") when it is a valid id, else a fresh one. */
  requestId: string;
  /** Absolute deadline in epoch ms: the caller's, bounded by the server's serverLimits.maxDeadlineMs. */
  deadline: number;
  /** Aborts when the caller cancels or the deadline passes: stop work then. */
  signal: AbortSignal;
  metadata: Metadata;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res> | Res;

type MethodShape = {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => unknown;
  responseSerialize: (v: never) => Buffer;
};

/** Typed unary handlers for a ts-proto service definition, keyed like the definition. */
export type Handlers<D> = {
  [K in keyof D]: D[K] extends {
    requestDeserialize: (b: Buffer) => infer Req;
    responseSerialize: (v: infer Res) => Buffer;
  }
    ? UnaryHandler<Req, Res>
    : never;
};

/**
 * Which calls of a service are operations, answered only with the admin or the mesh token: all of
 * them, or per method a test of the request (a Blend is one when it asks for debug).
 */
export type Operations<D> =
  | 'all'
  | {
      [K in keyof D]?: D[K] extends { requestDeserialize: (b: Buffer) => infer Req }
        ? (request: Req) => boolean
        : never;
    };

export interface ServiceBinding {
  definition: Record<string, MethodShape>;
  handlers: Record<string, UnaryHandler<never, unknown>>;
  operations?: 'all' | Record<string, (request: any) => boolean>;
}

/** Pairs a ts-proto service definition with its handlers (and its operations), checked by the compiler. */
export function bindService<D extends Record<string, MethodShape>>(
  definition: D,
  handlers: Handlers<D>,
  operations?: Operations<D>,
): ServiceBinding {
  return {
    definition,
    handlers: handlers as unknown as ServiceBinding['handlers'],
    operations: operations as ServiceBinding['operations'],
  };
}

/** The credentials a server accepts and its TLS (mesh config `security`). */
export interface ServerSecurity {
  tokens: TokenSet;
  tls?: TlsConfig;
}

export interface ServerOptions {
  /** Service name for logs, spans and metrics, e.g. "generator.popular". */
  name: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  services: ServiceBinding[];
  /** Largest request or response accepted, in bytes. */
  maxMessageBytes?: number;
  /**
   * Admission control for the methods where the queue forms, keyed like the service definition
   * (e.g. `blend`): such a call is admitted or refused at arrival, before its handler runs.
   */
  admission?: Record<string, AdmissionController>;
  /** Deadline, stream and connection limits (mesh config `serverLimits`); defaults when absent. */
  limits?: ServerLimits;
  /** Tokens and TLS; absent: plaintext, and every operation is refused (no token is known). */
  security?: ServerSecurity;
  /** The operations' own listener (with reflection and health): the services that listen there. */
  admin?: { port: number; services: ServiceBinding[] };
}

export interface RunningServer {
  name: string;
  port: number;
  address: string;
  /** The operations' listener, when the server has one. */
  adminPort?: number;
  adminAddress?: string;
  health: HealthState;
  /** Marks every service on this server serving or not. */
  setServing(serving: boolean): void;
  /** For a server that warms up before its first SERVING (libs/bootstrap/warm-up.ts): see WarmGate.warming. */
  warming?(): Promise<void>;
  /** Stops accepting calls, lets in-flight ones finish for up to graceMs, then closes. */
  stop(graceMs?: number): Promise<void>;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const serviceNameOf = (definition: Record<string, MethodShape>) => Object.values(definition)[0].path.split('/')[1];

/** Starts a gRPC server with reflection, health, tracing, metrics, deadlines and clean errors. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const health = new HealthState();
  const host = options.host ?? '127.0.0.1';
  const main = await listen(options, health, options.port, options.services);
  const admin = options.admin
    ? await listen(options, health, options.admin.port, options.admin.services).catch((err) => {
        main.server.forceShutdown();
        throw err;
      })
    : undefined;
  health.set('', ServingStatus.SERVING);

  // Clients in this process reach these methods without the network (see in-process.ts).
  const withdraw = [main, ...(admin ? [admin] : [])].map((l) =>
    registerLocalServer(host, l.port, { methods: l.localMethods, maxMessageBytes: maxBytes }),
  );
  let stopped: Promise<void> | undefined;
  return {
    name: options.name,
    port: main.port,
    address: `${host}:${main.port}`,
    ...(admin ? { adminPort: admin.port, adminAddress: `${host}:${admin.port}` } : {}),
    health,
    setServing: (serving) => health.setAll(serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING),
    stop(graceMs = 5_000) {
      stopped ??= (async () => {
        for (const w of withdraw) w();
        for (const controller of Object.values(options.admission ?? {})) controller.close();
        health.setAll(ServingStatus.NOT_SERVING);
        health.closeWatchers();
        await Promise.all([main, ...(admin ? [admin] : [])].map((l) => shutdown(l.server, graceMs)));
      })();
      return stopped;
    },
  };
}

interface Listener {
  server: Server;
  port: number;
  localMethods: Map<string, LocalMethod>;
}

/** One gRPC listener of a server: its services wrapped, health and reflection, bound to port. */
async function listen(
  options: ServerOptions,
  health: HealthState,
  requestedPort: number,
  services: ServiceBinding[],
): Promise<Listener> {
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const limits = options.limits ?? DEFAULT_SERVER_LIMITS;
  const tokens = options.security?.tokens ?? { digests: [] };
  // Admission-controlled methods by path: refused at their headers when overloaded (early-refusal.ts).
  const admitted = new Map<string, AdmissionController>();
  for (const binding of services)
    for (const [method, shape] of Object.entries(binding.definition)) {
      const controller = options.admission?.[method];
      if (controller) admitted.set(shape.path, controller);
    }
  const server = new Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    ...serverChannelOptions(limits),
    ...(admitted.size > 0 && {
      interceptors: [
        earlyRefusal(admitted, limits.maxDeadlineMs, (path, code, started) =>
          recordDuration(options.name, path, code, started),
        ),
      ],
    }),
  });
  const serviceNames: string[] = [];
  const localMethods = new Map<string, LocalMethod>();
  for (const binding of services) {
    const serviceName = serviceNameOf(binding.definition);
    serviceNames.push(serviceName);
    const implementation: UntypedServiceImplementation = {};
    const decoding = tolerantDecoding(binding.definition);
    for (const [method, shape] of Object.entries(binding.definition)) {
      const handler = binding.handlers[method];
      if (!handler) throw new Error(`${options.name}: no handler for ${shape.path}`);
      if (shape.requestStream || shape.responseStream)
        throw new Error(`${options.name}: ${shape.path} streams; only unary is wrapped`);
      const operation = binding.operations === 'all' ? () => true : binding.operations?.[method];
      const handle = wrapUnary(options.name, shape.path, handler, options.admission?.[method], limits.maxDeadlineMs, {
        operation,
        tokens,
      });
      implementation[method] = handle;
      localMethods.set(shape.path, {
        requestDeserialize: decoding[method].requestDeserialize,
        responseSerialize: shape.responseSerialize,
        handle: handle as unknown as LocalMethod['handle'],
      });
    }
    server.addService(decoding as unknown as ServiceDefinition, implementation);
    health.set(serviceName, ServingStatus.SERVING);
  }
  const healthBinding = health.binding();
  server.addService(
    healthBinding.definition as unknown as ServiceDefinition,
    healthBinding.implementation as unknown as UntypedServiceImplementation,
  );
  addReflection(server, [...serviceNames, 'grpc.health.v1.Health']);

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${requestedPort}`,
      serverCredentialsOf(options.security?.tls),
      (err, bound) =>
        err
          ? reject(new Error(`${options.name}: cannot listen on ${host}:${requestedPort}: ${err.message}`))
          : resolve(bound),
    ),
  );
  return { server, port, localMethods };
}

/** Lets in-flight calls finish for up to graceMs, then closes whatever is left. */
function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    force.unref();
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** Marks a request whose bytes did not decode; its handler answers INVALID_ARGUMENT instead of running. */
const UNDECODABLE = Symbol('undecodable request');
type Undecodable = { [UNDECODABLE]: string };

/**
 * grpc-js answers a request that fails to decode with INTERNAL; it is the caller's mistake, so the
 * decode error is carried to the handler wrapper, which answers INVALID_ARGUMENT.
 */
function tolerantDecoding(definition: Record<string, MethodShape>): Record<string, MethodShape> {
  return Object.fromEntries(
    Object.entries(definition).map(([method, shape]) => [
      method,
      {
        ...shape,
        requestDeserialize: (bytes: Buffer) => {
          try {
            return shape.requestDeserialize(bytes);
          } catch (err) {
            return { [UNDECODABLE]: (err as Error)?.message ?? String(err) } satisfies Undecodable;
          }
        },
      },
    ]),
  );
}

const rpcDuration = () =>
  meter().createHistogram('rpc.server.duration', {
    unit: 'ms',
    description: 'Duration of inbound RPCs',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
let durationHistogram: ReturnType<typeof rpcDuration> | undefined;

function recordDuration(serverName: string, path: string, code: status, started: number): void {
  const [, service, method] = path.split('/');
  durationHistogram ??= rpcDuration();
  durationHistogram.record(performance.now() - started, {
    'rpc.system': 'grpc',
    'rpc.service': service,
    'rpc.method': method,
    'rpc.grpc.status_code': code,
    'feedloom.server': serverName,
  });
}

function wrapUnary(
  serverName: string,
  path: string,
  handler: UnaryHandler<never, unknown>,
  admission: AdmissionController | undefined,
  maxDeadlineMs: number,
  access: { operation?: (request: any) => boolean; tokens: TokenSet },
) {
  const [, service, method] = path.split('/');
  const record = (started: number, code: status) => recordDuration(serverName, path, code, started);
  return (call: ServerUnaryCall<any, unknown>, callback: sendUnaryData<unknown>) => {
    const started = performance.now();
    // No call runs longer than the server allows, whatever deadline (or none) the caller set.
    const deadline = callDeadline(call.getDeadline(), maxDeadlineMs);
    // An operation without the admin or mesh token is refused before it costs anything.
    const refusal = access.operation?.(call.request)
      ? operationRefusal(bearerOf(call.metadata), access.tokens, path)
      : undefined;
    if (refusal) {
      record(started, refusal.code);
      callback({ code: refusal.code, details: refusal.message });
      return;
    }
    // Refused at arrival: answered before anything else is done for the call.
    const admitted = admission?.admit(deadline);
    if (admitted instanceof RpcError) {
      record(started, admitted.code);
      callback({ code: admitted.code, details: admitted.message });
      return;
    }
    const controller = new AbortController();
    // A handler may pass its signal to many downstream calls at once (the blender's fan-out).
    setMaxListeners(256, controller.signal);
    const onCancel = () => controller.abort(new RpcError(status.CANCELLED, 'the caller cancelled the call'));
    call.on('cancelled', onCancel);
    const timer = Number.isFinite(deadline)
      ? setTimeout(
          () => controller.abort(new RpcError(status.DEADLINE_EXCEEDED, `${path} ran past its deadline`)),
          Math.max(0, deadline - Date.now()),
        )
      : undefined;
    const requestId = requestIdOf(call.metadata);
    const { parent, links } = incomingTrace(call.metadata, access.tokens);
    const span = tracer().startSpan(
      path.slice(1),
      {
        kind: SpanKind.SERVER,
        attributes: {
          'rpc.system': 'grpc',
          'rpc.service': service,
          'rpc.method': method,
          'feedloom.server': serverName,
        },
        links,
      },
      parent,
    );
    const ctx: CallContext = { requestId, deadline, signal: controller.signal, metadata: call.metadata };
    const finish = (code: status, err?: unknown, response?: unknown) => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
      span.end();
      admitted?.done(code === status.OK);
      record(started, code);
      if (code === status.OK) callback(null, response);
      else callback({ code, details: publicMessage(serverName, path, requestId, err) });
    };
    const run = async () => {
      const undecodable = (call.request as Partial<Undecodable> | null)?.[UNDECODABLE];
      if (undecodable !== undefined) {
        finish(
          status.INVALID_ARGUMENT,
          invalidArgument('request', `is not a valid ${path} request message (${undecodable})`),
        );
        return;
      }
      try {
        // Admitted calls wait here for a slot, first come first served.
        if (admitted) await admitted.started(controller.signal);
        const response = await otelContext.with(trace.setSpan(parent, span), () => handler(call.request as never, ctx));
        if (controller.signal.aborted) finish(codeOf(controller.signal.reason), controller.signal.reason);
        else finish(status.OK, undefined, response);
      } catch (err) {
        // Once the call is cancelled or late, that is the outcome, whatever the handler threw.
        const cause = controller.signal.aborted ? controller.signal.reason : err;
        const code = codeOf(cause);
        finish(code === status.UNKNOWN ? status.INTERNAL : code, cause);
      }
    };
    void run();
  };
}

/**
 * The caller's x-request-id when it is a valid id, else a fresh one: the header is the caller's to
 * set, and this id is forwarded as request_id to every downstream call, which would refuse a bad one.
 */
function requestIdOf(metadata: Metadata): string {
  const sent = metadata.get('x-request-id')[0];
  return typeof sent === 'string' && idProblem(sent) === undefined ? sent : randomUUID();
}

/** Callers get a status and a message to act on, never a stack trace; unexpected errors are logged here. */
function publicMessage(serverName: string, path: string, requestId: string, err: unknown): string {
  if (err instanceof RpcError) return withoutAbsolutePaths(err.message);
  const code = codeOf(err);
  const message = (err as Error)?.message ?? String(err);
  if (code !== status.UNKNOWN) return withoutAbsolutePaths(message);
  console.error(`[${serverName}] ${path} request ${requestId} failed:`, err);
  return `internal error in ${path} (request id ${requestId}); see the ${serverName} log`;
}

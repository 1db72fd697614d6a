// gRPC's in-process transport, for components that share a process (all-in-one mode): a call to a
// server of this process skips HTTP/2 and the socket, but not the wire format. The request is
// serialized by the client and decoded by the server's own (tolerant) decoder, the response the
// same way back, so validation, size limits, deadlines, cancellation, metadata (trace context,
// request id), status codes and server metrics are what they are over the network. Java and C++
// gRPC ship the same idea as InProcessChannel. FEEDLOOM_IN_PROCESS_CALLS=0 turns it off.
import { EventEmitter } from 'node:events';
import {
  Metadata,
  status,
  type Interceptor,
  type InterceptorOptions,
  type InterceptingCall,
  type StatusObject,
} from '@grpc/grpc-js';

/** One unary method of a server in this process, as the server itself would run it. */
export interface LocalMethod {
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(response: never): Buffer;
  /** The server's call handler (grpc-js handleUnary shape). */
  handle(
    call: LocalServerCall,
    callback: (err: { code: status; details: string } | null, response?: unknown) => void,
  ): void;
}

interface LocalServer {
  methods: Map<string, LocalMethod>;
  maxMessageBytes: number;
}

/** What the server-side handler sees of the call: the subset of grpc-js's ServerUnaryCall it uses. */
export interface LocalServerCall extends EventEmitter {
  request: unknown;
  metadata: Metadata;
  getDeadline(): Date | number;
  getPeer(): string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::']);
const serversByPort = new Map<number, LocalServer>();
let localCalls = 0;

/** How many calls this process has served in-process (for tests and debugging). */
export const localCallCount = () => localCalls;

/** The port of an address on this machine's loopback (host:port, [v6]:port), else undefined. */
export function loopbackPort(address: string): number | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:/\[\]]+)):(\d+)$/.exec(address);
  if (!m) return undefined;
  return LOOPBACK.has(m[1] ?? m[2]) ? Number(m[3]) : undefined;
}

export const inProcessCallsEnabled = () => process.env.FEEDLOOM_IN_PROCESS_CALLS !== '0';

/** Makes a server's unary methods callable in-process; returns the function that withdraws them. */
export function registerLocalServer(host: string, port: number, server: LocalServer): () => void {
  if (!LOOPBACK.has(host)) return () => {};
  serversByPort.set(port, server);
  return () => {
    if (serversByPort.get(port) === server) serversByPort.delete(port);
  };
}

/**
 * A client interceptor that sends a call in-process when a server of this process listens at the
 * channel's address, and over the network otherwise. Looked up per call, so a server started after
 * the client, or stopped and restarted, is found (or left) as it comes and goes.
 */
export function inProcessInterceptor(address: string): Interceptor | undefined {
  const port = loopbackPort(address);
  if (port === undefined || !inProcessCallsEnabled()) return undefined;
  return (options, nextCall) => {
    const server = serversByPort.get(port);
    const method = server?.methods.get(options.method_definition.path);
    if (!server || !method) return nextCall(options) as InterceptingCall;
    return new LocalCall(server, method, options) as unknown as InterceptingCall;
  };
}

type Listener = {
  onReceiveMetadata(m: Metadata): void;
  onReceiveMessage(m: unknown): void;
  onReceiveStatus(s: StatusObject): void;
};

/** One in-process call, driven by grpc-js's client exactly as it drives a network call. */
class LocalCall {
  private listener?: Partial<Listener>;
  private metadata = new Metadata();
  private request: unknown;
  private done = false;
  private timer?: NodeJS.Timeout;
  private readonly serverCall = new EventEmitter() as LocalServerCall;

  constructor(
    private readonly server: LocalServer,
    private readonly method: LocalMethod,
    private readonly options: InterceptorOptions,
  ) {}

  start(metadata: Metadata, listener?: Partial<Listener>): void {
    this.metadata = metadata.clone();
    this.listener = listener;
  }
  sendMessageWithContext(_context: unknown, message: unknown): void {
    this.request = message;
  }
  sendMessage(message: unknown): void {
    this.request = message;
  }
  startRead(): void {}
  getPeer(): string {
    return 'in-process';
  }
  getAuthContext(): null {
    return null;
  }
  halfClose(): void {
    // Never run the server inside the caller's stack: a network call would not either.
    queueMicrotask(() => this.run());
  }
  cancelWithStatus(code: status, details: string): void {
    if (this.done) return;
    this.serverCall.emit('cancelled');
    this.finish({ code, details });
  }

  private run(): void {
    if (this.done) return;
    localCalls++;
    const deadline = deadlineMs(this.options.deadline);
    if (deadline <= Date.now()) return this.finish({ code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' });
    if (Number.isFinite(deadline)) {
      this.timer = setTimeout(
        () => this.cancelWithStatus(status.DEADLINE_EXCEEDED, 'Deadline exceeded'),
        deadline - Date.now(),
      );
    }
    let bytes: Buffer;
    try {
      bytes = this.options.method_definition.requestSerialize(this.request);
    } catch (err) {
      return this.finish({
        code: status.INTERNAL,
        details: `Request message serialization failure: ${(err as Error).message}`,
      });
    }
    if (bytes.length > this.server.maxMessageBytes) {
      return this.finish({
        code: status.RESOURCE_EXHAUSTED,
        details: `Received message larger than max (${bytes.length} vs. ${this.server.maxMessageBytes})`,
      });
    }
    Object.assign(this.serverCall, {
      request: this.method.requestDeserialize(bytes),
      metadata: this.metadata,
      getDeadline: () => deadline,
      getPeer: () => 'in-process',
    });
    this.method.handle(this.serverCall, (err, response) => {
      if (this.done) return;
      if (err) return this.finish({ code: err.code, details: err.details });
      let message: unknown;
      try {
        const out = this.method.responseSerialize(response as never);
        if (out.length > this.server.maxMessageBytes) {
          return this.finish({
            code: status.RESOURCE_EXHAUSTED,
            details: `Sent message larger than max (${out.length} vs. ${this.server.maxMessageBytes})`,
          });
        }
        message = this.options.method_definition.responseDeserialize(out);
      } catch (e) {
        return this.finish({
          code: status.INTERNAL,
          details: `Response message parsing error: ${(e as Error).message}`,
        });
      }
      this.listener?.onReceiveMetadata?.(new Metadata());
      this.listener?.onReceiveMessage?.(message);
      this.finish({ code: status.OK, details: '' });
    });
  }

  private finish(result: { code: status; details: string }): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.listener?.onReceiveStatus?.({ ...result, metadata: new Metadata() });
  }
}

function deadlineMs(deadline: InterceptorOptions['deadline']): number {
  if (deadline === undefined) return Infinity;
  return deadline instanceof Date ? deadline.getTime() : Number(deadline);
}

import { status as grpcStatus, type ServerWritableStream } from '@grpc/grpc-js';
import {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
} from '../../generated/grpc/health/v1/health.js';
import { RpcError } from './errors.js';

export { ServingStatus };

const notRegistered = (service: string) =>
  new RpcError(grpcStatus.NOT_FOUND, `service "${service.slice(0, 200)}" is not registered for health checks`);

/** The standard grpc.health.v1.Health service: "" is the whole server, or a service's full name. */
export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>>();

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) call.write({ status });
  }

  /** Sets the whole server and every registered service at once. */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys()]) this.set(service, status);
  }

  get(service = ''): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  binding() {
    return {
      definition: HealthService,
      implementation: {
        check: (call: { request: HealthCheckRequest }, callback: (err: unknown, res?: HealthCheckResponse) => void) => {
          const status = this.statuses.get(call.request.service);
          if (status === undefined) callback(notRegistered(call.request.service));
          else callback(null, { status });
        },
        watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
          const service = call.request.service;
          const status = this.statuses.get(service);
          // Watchers are kept per name: only registered names, so a caller cannot grow the map.
          if (status === undefined) {
            call.emit('error', notRegistered(service));
            return;
          }
          call.write({ status });
          const set = this.watchers.get(service) ?? new Set();
          set.add(call);
          this.watchers.set(service, set);
          call.on('cancelled', () => set.delete(call));
        },
      },
    };
  }

  /** Ends open Watch streams, so a server can shut down without waiting on them. */
  closeWatchers(): void {
    for (const set of this.watchers.values()) {
      for (const call of set) call.end();
      set.clear();
    }
  }
}

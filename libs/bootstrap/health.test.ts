import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HealthClient,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from '../../generated/grpc/health/v1/health.js';
import { connect } from './client.js';
import { startServer, type RunningServer } from './server.js';

/** The first message of a Watch, or the error that ended it. */
function firstWatchAnswer(client: HealthClient, service: string): Promise<HealthCheckResponse | ServiceError> {
  return new Promise((resolve) => {
    const call = client.watch({ service }, { deadline: Date.now() + 5_000 });
    call.on('data', (res: HealthCheckResponse) => {
      resolve(res);
      call.cancel();
    });
    call.on('error', (err: ServiceError) => resolve(err));
  });
}

describe('the health service', () => {
  let server: RunningServer;
  let client: HealthClient;
  beforeAll(async () => {
    server = await startServer({ name: 'health-test', port: 0, services: [] });
    client = connect(HealthClient, server.address, { inProcess: false });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop(100);
  });

  it('watches a registered service', async () => {
    expect(await firstWatchAnswer(client, '')).toEqual({ status: ServingStatus.SERVING });
  });

  // A watcher is kept per service name: caller-chosen names would grow that map without bound.
  it('refuses to watch a name it does not serve, with NOT_FOUND', async () => {
    const answer = (await firstWatchAnswer(client, 'x'.repeat(1000))) as ServiceError;
    expect(answer.code).toBe(status.NOT_FOUND);
    expect(answer.details).toMatch(/is not registered for health checks/);
  });
});

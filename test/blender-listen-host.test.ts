// The blender binds listenHost like every other server (on Kubernetes 0.0.0.0, while `host` names
// where the others are reached), not `host`, which left it reachable only on loopback.
import { afterAll, describe, expect, it } from 'vitest';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import type { RunningServer } from '../libs/bootstrap/server.js';
import { startBlender } from '../services/blender/service.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';

describe('the blender', () => {
  let blender: RunningServer | undefined;
  afterAll(async () => {
    await blender?.stop(100);
  });

  it('listens on listenHost, not on host', async () => {
    const world = await testWorld();
    // Another loopback address stands in for a pod's interface: reachable only if bound there.
    const { mesh } = testMeshConfig(world, (raw) => {
      raw.host = '127.0.0.1';
      raw.listenHost = '127.0.0.2';
    });
    blender = await startBlender(mesh, { snapshotsDir: snapshotsOf(world), port: 0 });
    expect(blender.address).toBe(`127.0.0.2:${blender.port}`);
    const health = connect(HealthClient, `127.0.0.2:${blender.port}`, { inProcess: false });
    try {
      const answer = await callUnary(health, 'check', { service: '' }, { timeoutMs: 5_000 });
      expect(answer.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      health.close();
    }
  });
});

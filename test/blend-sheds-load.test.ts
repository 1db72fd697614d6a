// Over its in-flight limit the blender refuses at once instead of queueing every Blend into lateness.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { smallMesh, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('Blend over the in-flight limit', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let users: string[];

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh: config } = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      raw.services.blender.maxInFlight = 1;
      // One slow source keeps each admitted Blend in flight for a while.
      raw.generators.find((g: { name: string }) => g.name === 'popular').settings = { faultDelayMs: 400 };
    });
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    blender = connect(BlenderClient, mesh.addresses.get('blender')!, { inProcess: false });
    users = await activeUsers(world, 3);
  });
  afterAll(async () => {
    blender?.close();
    await mesh?.stop();
  });

  const blend = (i: number) =>
    callUnary(
      blender,
      'blend',
      { userId: users[i % users.length], limit: 10, debug: false, requestId: `shed-${i}` },
      { timeoutMs: 5_000 },
    );

  it('serves the admitted Blend, refuses the others at once with UNAVAILABLE, then serves again', async () => {
    const admitted = blend(0);
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const refused = await Promise.all([blend(1), blend(2)].map((p) => p.catch((e) => e)));
    expect(performance.now() - started).toBeLessThan(300);
    for (const err of refused) {
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toMatch(/blender overloaded: 1 Blends in flight.*maxInFlight/);
    }
    expect((await admitted).items).toHaveLength(10);
    expect((await blend(3)).items).toHaveLength(10);
  });
});

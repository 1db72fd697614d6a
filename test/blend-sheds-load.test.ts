// Past its admission limit the blender refuses at once instead of queueing every Blend into lateness
// (the admission controller of libs/bootstrap/admission.ts, on the real blender).
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { smallMesh, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('Blend past the admission limit', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let users: string[];

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh: config } = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      // One Blend at a time, and none may queue.
      raw.admission = { blend: { concurrency: 1, maxQueueMs: 0 } };
      // One slow source, waited for, keeps each admitted Blend in flight for a while.
      raw.services.blender.fanoutDeadlineMs = 2_000;
      Object.assign(
        raw.generators.find((g: { name: string }) => g.name === 'popular'),
        {
          deadlineMs: 2_000,
          settings: { faultDelayMs: 300 },
        },
      );
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
    // Three at once: whichever arrives first runs, the two others find the one slot taken.
    const outcomes = await Promise.all([0, 1, 2].map((i) => blend(i).catch((e) => e)));
    const served = outcomes.filter((o) => Array.isArray(o.items));
    const refused = outcomes.filter((o) => !Array.isArray(o.items));
    expect(served).toHaveLength(1);
    expect(served[0].items).toHaveLength(10);
    expect(refused).toHaveLength(2);
    for (const err of refused) {
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toMatch(/blender overloaded: 1 Blend calls running and 0 queued.*admission\.blend/);
    }
    expect((await blend(3)).items).toHaveLength(10);
  });
});

// `up` says "ready" only once probe Blends have every enabled source OK within its deadline; when a
// source cannot get there, the wait ends with a message naming it. Real in-process meshes on the tiny world.
import { afterEach, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { waitForFullBlends } from '../services/ops/cli/ready.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { smallMesh, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';
import { sourceFailed } from '../libs/blend/source-state.js';

let mesh: Awaited<ReturnType<typeof startAllInOne>> | undefined;
afterEach(async () => {
  await mesh?.stop();
  mesh = undefined;
});

async function start(edit: (raw: any) => void = () => {}) {
  const world = await testWorld();
  const { mesh: config } = testMeshConfig(world, (raw) => {
    smallMesh(raw);
    edit(raw);
  });
  mesh = await startAllInOne(config, { ephemeralPorts: true });
  return { blender: mesh.addresses.get('blender')!, users: [...(await activeUsers(world, 2)), 'nobody_yet'] };
}

describe("up's readiness: probe Blends with every source OK", () => {
  it('is ready once probe rounds in a row have every source OK, and the next Blend has them all OK too', async () => {
    const { blender, users } = await start();
    const probe = await waitForFullBlends(blender, users, { timeoutMs: 60_000 });
    expect(probe).toMatchObject({ ready: true, failing: [] });
    const client = connect(BlenderClient, blender);
    try {
      const first = await callUnary(
        client,
        'blend',
        { userId: users[0], limit: 10, debug: false, requestId: '' },
        { timeoutMs: 5_000 },
      );
      expect(first.sources.map((s) => s.generator).sort()).toEqual([
        'followed_creators',
        'item_cooccurrence',
        'popular',
      ]);
      expect(first.sources.filter(sourceFailed)).toEqual([]);
    } finally {
      client.close();
    }
  }, 120_000);

  it('gives up after its timeout naming the source still failing', async () => {
    const { blender, users } = await start((raw) => {
      const slow = raw.generators.find((g: { name: string }) => g.name === 'item_cooccurrence');
      // Slower than its deadline on every call: it can never answer a probe in time.
      slow.deadlineMs = 200;
      slow.settings = { ...slow.settings, faultDelayMs: 5_000 };
    });
    const probe = await waitForFullBlends(blender, users, { timeoutMs: 1_000 });
    expect(probe.ready).toBe(false);
    expect(probe.rounds).toBeGreaterThanOrEqual(1);
    expect(probe.failing).toHaveLength(1);
    expect(probe.failing[0]).toMatch(/^item_cooccurrence \(TIMEOUT/);
  }, 120_000);
});

// A Blend never hides a total failure: when no generator answered OK it is UNAVAILABLE with each
// source's reason, not OK with an empty page. And one malformed entry in the hydrated context costs
// that entry (with a warning), not every generator's answer.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { EventsClient, EventsService } from '../generated/feedloom/v1/events.js';
import { unavailable } from '../libs/bootstrap/errors.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { bindService, startServer, type RunningServer } from '../libs/bootstrap/server.js';
import type { MeshConfig } from '../libs/config/mesh.js';
import { startBlender } from '../services/blender/service.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';
import { sourceFailed } from '../libs/blend/source-state.js';

const GENERATORS = ['popular', 'item_cooccurrence', 'followed_creators'];
const USER = 'u3';

/** A real Events server in front of the real one that breaks the first recent action's time. */
async function corruptingEvents(real: EventsClient): Promise<RunningServer> {
  return startServer({
    name: 'corrupting-events',
    port: 0,
    services: [
      bindService(EventsService, {
        log: () => {
          throw unavailable('not used here');
        },
        getUserContext: async (request) => {
          const user = await callUnary(real, 'getUserContext', request, { timeoutMs: 3_000 });
          user.recentActions[0].timeMs = -1;
          return user;
        },
      }),
    ],
  });
}

describe('a Blend that cannot be served well', () => {
  let config: MeshConfig;
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  const closers: (() => unknown)[] = [];
  const blendOn = (address: string, debug = false): Promise<BlendResponse> => {
    // A debug Blend is an operation: the admin token.
    const client = connect(BlenderClient, address, debug ? { token: testAdminToken() } : {});
    closers.push(() => client.close());
    return callUnary(client, 'blend', { userId: USER, limit: 10, debug, requestId: '' }, { timeoutMs: 10_000 });
  };

  beforeAll(async () => {
    const world = await testWorld();
    ({ mesh: config } = testMeshConfig(world, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) => GENERATORS.includes(g.name));
    }));
    mesh = await startAllInOne(config, { ephemeralPorts: true });
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await mesh?.stop();
  });

  it('drops a malformed hydrated entry with a warning and still serves the feed', async () => {
    const real = connect(EventsClient, mesh.addresses.get('events')!, { token: testAdminToken() });
    const before = await callUnary(real, 'getUserContext', { userId: USER, maxActions: 100 }, { timeoutMs: 3_000 });
    expect(before.recentActions.length).toBeGreaterThan(1);
    const proxy = await corruptingEvents(real);
    // A second blender, on the same generators, hydrating through the corrupting events server.
    const blender = await startBlender(
      { ...config, services: { ...config.services, events: { ...config.services.events, port: proxy.port } } },
      { snapshotsDir: snapshotsOf(config.world.dir), port: 0 },
    );
    closers.push(
      () => real.close(),
      () => proxy.stop(100),
      () => blender.stop(100),
    );

    const response = await blendOn(blender.address, true);
    expect(response.warnings).toEqual([
      expect.stringMatching(
        /^user context: dropped 1 malformed entry \(user\.recent_actions\[0\]\.time_ms: must be milliseconds since the Unix epoch.*\(got -1\)\); served the rest$/,
      ),
    ]);
    // Every source asked answered (one this user gives nothing to start from is DISABLED, not asked).
    expect(response.sources.filter(sourceFailed)).toEqual([]);
    expect(response.sources.filter((s) => s.state === SourceState.SOURCE_STATE_OK).length).toBeGreaterThan(0);
    expect(response.items).toHaveLength(10);
    // Only the malformed action is gone; the rest of the history still personalizes the feed.
    expect(response.debug!.user!.recentActions.map((a) => a.itemId)).toEqual(
      before.recentActions.slice(1).map((a) => a.itemId),
    );
  });

  it('is UNAVAILABLE, naming every source and why, when no generator answers', async () => {
    const healthy = await blendOn(mesh.addresses.get('blender')!);
    expect(healthy.items).toHaveLength(10);
    const asked = healthy.sources.filter((s) => s.state !== SourceState.SOURCE_STATE_DISABLED).map((s) => s.generator);
    expect(asked.length).toBeGreaterThan(1);
    for (const name of GENERATORS) await mesh.servers.find((s) => s.name === `generator.${name}`)!.stop(100);

    const failed = await blendOn(mesh.addresses.get('blender')!).then(
      () => undefined,
      (err: { code: number; details: string }) => err,
    );
    expect(failed?.code).toBe(status.UNAVAILABLE);
    expect(failed!.details).toMatch(/^no candidate source answered OK: /);
    for (const name of asked)
      expect(failed!.details).toMatch(new RegExp(`${name}: (UNAVAILABLE|FAILED|TIMEOUT) \\(.+\\)`));
  });
});

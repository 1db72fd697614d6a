// One process per service, as deployed: kill -9 a generator while Blend requests flow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startProcesses } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, smallMesh, spreadPorts, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('Blend while a generator process dies', () => {
  let mesh: Awaited<ReturnType<typeof startProcesses>>;
  let blender: BlenderClient;
  let users: string[];

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh: config, path } = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      spreadPorts(raw);
    });
    mesh = await startProcesses(config, path);
    blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    users = await activeUsers(world, 10);
  }, 120_000);
  afterAll(async () => {
    blender?.close();
    await mesh?.stop();
  });

  const blend = (i: number): Promise<BlendResponse> =>
    callUnary(
      blender,
      'blend',
      { userId: users[i % users.length], limit: 20, debug: false, requestId: `r${i}` },
      { timeoutMs: 3_000 },
    );
  const stateOf = (r: BlendResponse, g: string) => r.sources.find((s) => s.generator === g)?.state;

  it('keeps answering, with the dead source marked', async () => {
    // Warm up: fresh processes compile their hot paths on the first calls.
    let w = 0;
    const before = await blendUntil(
      () => blend(w++),
      (r) => !r.warnings.length && stateOf(r, 'item_cooccurrence') === SourceState.SOURCE_STATE_OK,
    );
    expect(stateOf(before, 'item_cooccurrence')).toBe(SourceState.SOURCE_STATE_OK);

    const responses: BlendResponse[] = [];
    const failures: unknown[] = [];
    let i = 0;
    const traffic = (async () => {
      const until = Date.now() + 4_000;
      while (Date.now() < until) {
        await blend(i++).then(
          (r) => responses.push(r),
          (err) => failures.push(err),
        );
      }
    })();
    await new Promise((r) => setTimeout(r, 1_000));
    const victim = mesh.children.get('generator.item_cooccurrence')!;
    const exited = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await exited;
    await traffic;

    expect(failures).toEqual([]);
    expect(responses.length).toBeGreaterThan(10);
    const last = responses[responses.length - 1];
    const dead = last.sources.find((s) => s.generator === 'item_cooccurrence')!;
    expect([
      SourceState.SOURCE_STATE_UNAVAILABLE,
      SourceState.SOURCE_STATE_FAILED,
      SourceState.SOURCE_STATE_TIMEOUT,
    ]).toContain(dead.state);
    expect(dead.error).not.toBe('');
    expect(stateOf(last, 'popular')).toBe(SourceState.SOURCE_STATE_OK);
    expect(last.items.length).toBe(20);
    expect(last.items.every((item) => item.sources.every((s) => s.generator !== 'item_cooccurrence'))).toBe(true);
  });
});

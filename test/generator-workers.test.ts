// Generators answered by worker threads in the all-in-one process (mesh.generatorThreads): the same
// answers as on the main thread, snapshot reloads under load, and a worker that dies.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { CandidateGeneratorClient, type GenerateResponse } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { popularity } from '../libs/data/batch/jobs/popularity.js';
import { publishRows, readSnapshot } from '../libs/data/snapshots.js';
import type { GeneratorWorkerPool } from '../libs/generator-sdk/worker-pool.js';
import { startServers } from '../services/servers.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, testMeshConfig } from './fixtures/mesh.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';
import { sourceFailed } from '../libs/blend/source-state.js';

const GENERATORS = ['popular', 'item_cooccurrence', 'followed_creators', 'pixie', 'session_next'];

async function startMesh(world: string, threads: number) {
  const { mesh } = testMeshConfig(world, (raw) => {
    raw.generators = raw.generators.filter((g: { name: string }) => GENERATORS.includes(g.name));
    delete raw.ann;
    delete raw.services.viewer;
    delete raw.services.ranker;
    raw.generatorThreads = threads;
    raw.snapshotPollMs = 200;
  });
  const running = await startServers(mesh, { ephemeralPorts: true });
  const blender = connect(BlenderClient, running.addresses.get('blender')!);
  const generator = (name: string) => connect(CandidateGeneratorClient, running.addresses.get(`generator.${name}`)!);
  return { mesh, running, blender, generator };
}

describe('generators on worker threads', () => {
  let world: string;
  let users: string[];
  let pooled: Awaited<ReturnType<typeof startMesh>>;
  let onMain: Awaited<ReturnType<typeof startMesh>>;

  beforeAll(async () => {
    world = await testWorld();
    users = await activeUsers(world, 12);
    pooled = await startMesh(world, 2);
    onMain = await startMesh(world, 0);
  }, 120_000);
  afterAll(async () => {
    for (const m of [pooled, onMain]) {
      m?.blender.close();
      await m?.running.stop();
    }
  });

  const blend = (m: typeof pooled, i: number): Promise<BlendResponse> =>
    callUnary(
      m.blender,
      'blend',
      { userId: users[i % users.length], limit: 20, debug: false, requestId: `w${i}` },
      { timeoutMs: 5_000 },
    );
  const allOk = (r: BlendResponse) => !r.sources.some(sourceFailed);
  const generate = (client: CandidateGeneratorClient, userId: string): Promise<GenerateResponse> =>
    callUnary(
      client,
      'generate',
      { user: UserContext.fromPartial({ userId }), quota: 50, requestId: 'w' },
      { timeoutMs: 5_000 },
    );

  it('refuses a bad request from the worker thread with the field and rule, as the main thread does', async () => {
    const [a, b] = [pooled.generator('popular'), onMain.generator('popular')];
    const bad = { user: UserContext.fromPartial({ userId: users[0] }), quota: 0, requestId: 'w' };
    const errors = await Promise.all(
      [a, b].map((client) => callUnary(client, 'generate', bad, { timeoutMs: 5_000 }).catch((e) => e)),
    );
    for (const err of errors) {
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/quota/);
    }
    expect(errors[0].details).toBe(errors[1].details);
    a.close();
    b.close();
  });

  it('answers every generator exactly as the main thread does', async () => {
    await blendUntil(() => blend(pooled, 0), allOk);
    for (const name of GENERATORS) {
      const [a, b] = [pooled.generator(name), onMain.generator(name)];
      for (const user of users.slice(0, 4)) {
        const [viaWorker, viaMain] = await Promise.all([generate(a, user), generate(b, user)]);
        expect(viaWorker).toEqual(viaMain);
      }
      a.close();
      b.close();
    }
  });

  it('serves a new snapshot version while Blends flow, none failing', async () => {
    const current = await readSnapshot(snapshotsOf(world), popularity);
    const reversed = [...current.rows].reverse().map((r, i) => ({ ...r, score: current.rows.length - i }));
    const versions: string[] = [];
    const failures: unknown[] = [];
    let i = 0;
    let stop = false;
    const popularVersion = (r: BlendResponse) => r.sources.find((s) => s.generator === 'popular')!.snapshotVersion;
    const traffic = (async () => {
      while (!stop)
        await blend(pooled, i++).then(
          (r) => versions.push(popularVersion(r)),
          (err) => failures.push(err),
        );
    })();
    await new Promise((r) => setTimeout(r, 300));
    const next = await publishRows(snapshotsOf(world), 'popularity', reversed);
    // Both workers reload on their own; wait until no Blend is answered from the old version.
    await blendUntil(
      async () => versions.slice(-4),
      (last) => last.length === 4 && last.every((v) => v === next.version),
      30_000,
    );
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(versions).toContain(current.version);
    expect(versions.at(-1)).toBe(next.version);
    const client = pooled.generator('popular');
    const served = await generate(client, 'nobody_new');
    client.close();
    expect(served.candidates[0].itemId).toBe(reversed[0].item_id);
  });

  it('replaces a worker that dies; Blends degrade, never fail', async () => {
    const pool = pooled.running.servers.map((s) => (s as { pool?: GeneratorWorkerPool }).pool).find(Boolean);
    expect(pool?.threads).toBe(2);
    const responses: BlendResponse[] = [];
    const failures: unknown[] = [];
    let i = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop)
        await blend(pooled, i++).then(
          (r) => responses.push(r),
          (err) => failures.push(err),
        );
    })();
    await new Promise((r) => setTimeout(r, 300));
    await pool!.terminateOne();
    // Its calls in flight fail (those sources degrade), the other worker answers the rest, and
    // the replacement loads the snapshots and takes its share.
    const back = await blendUntil(() => blend(pooled, i++), allOk, 60_000);
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(allOk(back)).toBe(true);
    expect(pool!.replaced).toBe(1);
  });
});

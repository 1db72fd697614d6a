// Learned retrieval through the whole mesh, with real parts: two_tower trained by the real trainer on
// the tiny world, indexed by the indexer (its CLI, and HNSW through the function), served by the
// viewer and two ANN hosts, called by the three learned generators, blended by the blender.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceState, BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { readIndexMeta } from '../libs/ann/index-files.js';
import { runCli } from '../services/ops/cli/commands.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers, startTestEvents } from './fixtures/events.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';
import { freePorts, trainedRegistry } from './fixtures/learned.js';

const run = promisify(execFile);
const LEARNED = ['two_tower', 'embedding_i2i', 'multi_interest'];
const buf = (args: string[]) =>
  run('npx', ['--no-install', 'buf', 'curl', '--protocol', 'grpc', '--http2-prior-knowledge', ...args], {
    timeout: 30_000,
  });

describe('learned retrieval through the mesh (trained model, indexer, viewer, 2 ANN hosts, blender)', () => {
  let world: string;
  let registryDir: string;
  let configPath: string;
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let users: string[];

  beforeAll(async () => {
    world = await testWorld();
    registryDir = await trainedRegistry(world, [1, 2]);
    // v0001 through the CLI (as `feedloom index` runs it), v0002 as HNSW through the function.
    const cli = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'services/offline/indexer/main.ts',
        '--world',
        world,
        '--registry',
        registryDir,
        '--version',
        'v0001',
        '--json',
      ],
      { timeout: 120_000 },
    );
    expect(JSON.parse(cli.stdout)).toMatchObject({ model: 'two_tower', version: 'v0001', factory: 'Flat' });
    await runIndexer({ registryDir, worldDir: world, version: 'v0002', index: { type: 'hnsw' } });

    const [events, blend, viewer, a, b, ...generatorPorts] = await freePorts(5 + 1 + LEARNED.length);
    const config = testMeshConfig(world, (raw) => {
      raw.registryDir = registryDir;
      raw.services.events.port = events;
      raw.services.blender.port = blend;
      raw.services.viewer = { port: viewer, keepVersions: 3 };
      raw.ann = {
        hosts: [
          { name: 'a', port: a },
          { name: 'b', port: b },
        ],
        efSearch: 128,
        nprobe: 8,
      };
      raw.generators = raw.generators.filter((g: { name: string }) => ['popular', ...LEARNED].includes(g.name));
      raw.generators.forEach((g: { port: number }, i: number) => (g.port = generatorPorts[i]));
      delete raw.services.ranker;
    });
    configPath = config.path;
    // The learned generators read the viewer and ANN addresses from the mesh config.
    process.env.FEEDLOOM_CONFIG = configPath;
    mesh = await startAllInOne(config.mesh);
    blender = connect(BlenderClient, mesh.addresses.get('blender')!, { token: testAdminToken() });
    users = await activeUsers(world, 4);
  }, 300_000);
  afterAll(async () => {
    blender?.close();
    await mesh?.stop();
  });

  const blend = (userId: string): Promise<BlendResponse> =>
    callUnary(blender, 'blend', { userId, limit: 30, debug: true, requestId: '' }, { timeoutMs: 20_000 });

  it('indexed both versions beside their models, tagged with the version', async () => {
    const v1 = await readIndexMeta(`${registryDir}/two_tower/v0001`);
    const v2 = await readIndexMeta(`${registryDir}/two_tower/v0002`);
    expect(v1).toMatchObject({ version: 'v0001', factory: 'Flat', dim: 32 });
    expect(v2).toMatchObject({ version: 'v0002', factory: 'HNSW32,Flat', dim: 32 });
    expect(v1!.items).toBe(v2!.items);
  });

  it('serves learned candidates in the blend, each generator reporting the version it used', async () => {
    let learnedOnPage = 0;
    for (const userId of users) {
      const res = await blend(userId);
      for (const name of LEARNED) {
        const source = res.sources.find((s) => s.generator === name)!;
        expect(source, name).toBeDefined();
        expect(source.state, `${name}: ${source.error}`).toBe(SourceState.SOURCE_STATE_OK);
        expect(source.candidates, name).toBeGreaterThan(0);
        expect(source.modelVersion, name).toBe('v0002'); // what both hosts serve at start-up
      }
      learnedOnPage += res.items.filter((item) => item.sources.some((s) => LEARNED.includes(s.generator))).length;
    }
    expect(learnedOnPage).toBeGreaterThan(0);
  });

  it('is reachable with a reflection client: viewer and ANN hosts list their services and answer JSON', async () => {
    const viewer = await buf(['--list-services', `http://${mesh.addresses.get('viewer')}`]);
    expect(viewer.stdout).toContain('feedloom.v1.ViewerModel');
    const ann = await buf(['--list-services', `http://${mesh.addresses.get('ann.a')}`]);
    expect(ann.stdout.split('\n')).toEqual(expect.arrayContaining(['feedloom.v1.AnnSearch', 'grpc.health.v1.Health']));
    // AnnAdmin only on the host's admin port (an operation).
    expect(ann.stdout).not.toContain('feedloom.v1.AnnAdmin');
    const annAdmin = mesh.servers.find((s) => s.name === 'ann.a')!.adminAddress;
    const admin = await buf(['--list-services', `http://${annAdmin}`]);
    expect(admin.stdout.split('\n')).toEqual(expect.arrayContaining(['feedloom.v1.AnnAdmin', 'grpc.health.v1.Health']));
    const { stdout } = await buf([
      '-d',
      '{}',
      `http://${mesh.addresses.get('ann.b')}/feedloom.v1.AnnSearch/GetVersions`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({
      host: 'b',
      models: [{ model: 'two_tower', servingVersion: 'v0002', loadedVersions: ['v0002'] }],
    });
  });

  it('rolls the hosts back to v0001 with `feedloom ann rollout`, and the generators follow at once', async () => {
    const logged: string[] = [];
    const log = console.log;
    console.log = (line: string) => logged.push(line);
    try {
      expect(await runCli(['ann', 'rollout', 'v0001', '--config', configPath])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(logged).toEqual(['a: serves v0001, holds v0001, v0002', 'b: serves v0001, holds v0001, v0002']);
    const generator = connect(CandidateGeneratorClient, mesh.addresses.get('generator.two_tower')!);
    const events = await startTestEvents(world);
    try {
      for (const userId of users) {
        const res = await callUnary(
          generator,
          'generate',
          { user: await events.context(userId), quota: 20, requestId: '' },
          { timeoutMs: 10_000 },
        );
        expect(res.modelVersion).toBe('v0001');
        expect(res.candidates.length).toBe(20);
      }
      const page = await blend(users[0]);
      expect(page.sources.find((s) => s.generator === 'two_tower')!.modelVersion).toBe('v0001');
    } finally {
      generator.close();
      await events.stop();
    }
  });
});

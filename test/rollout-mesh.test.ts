// Staged rollout and rollback of two_tower on a mesh of real child processes (events, viewer, ANN
// hosts a and b, two generators, blender), with versions trained by the real trainer on the tiny
// world. Feed requests flow through the blender during rollout and rollback: none may fail, and
// none may carry a user embedding of another version than the index that answered it.
import { execFile } from 'node:child_process';
import { readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnSearchClient } from '../generated/feedloom/v1/ann.js';
import { ViewerModelClient } from '../generated/feedloom/v1/viewer.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { INDEX_FILE } from '../libs/ann/index-files.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { rolloutVersion, type RolloutResult } from '../services/ops/rollout/rollout.js';
import { testWorld } from './fixtures/world.js';
import { trainedRegistry } from './fixtures/learned.js';
import {
  MODEL,
  feedTraffic,
  publishMixedTowers,
  startLearnedMeshProcesses,
  walkTo,
  type LearnedMeshProcesses,
} from './fixtures/rollout.js';

const run = promisify(execFile);
const INDEX_DELAY_MS = 4_000;

describe('two_tower rollout and rollback across real processes', () => {
  let world: string;
  let registryDir: string;
  let mesh: LearnedMeshProcesses;
  let search: Record<string, AnnSearchClient>;
  let viewer: ViewerModelClient;
  const timeline: { atMs: number; viewer: string[]; hosts: Record<string, string> }[] = [];

  beforeAll(async () => {
    world = await testWorld();
    registryDir = await trainedRegistry(world, [1, 2]);
    // v0001 serves; v0002 is published and not indexed yet (the rollout builds its index).
    await runIndexer({ registryDir, worldDir: world, version: 'v0001' });
    await walkTo(registryDir, 'v0001', 'serving');
    await walkTo(registryDir, 'v0002', 'published');
    mesh = await startLearnedMeshProcesses(world, registryDir);
    search = Object.fromEntries(
      mesh.mesh.ann!.hosts.map((h) => [h.name, connect(AnnSearchClient, `127.0.0.1:${h.port}`)]),
    );
    viewer = connect(ViewerModelClient, `127.0.0.1:${mesh.mesh.services.viewer!.port}`);
  }, 600_000);

  afterAll(async () => {
    for (const c of Object.values(search ?? {})) c.close();
    viewer?.close();
    await mesh?.stop();
  });

  const served = async () =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(search).map(async ([name, c]) => {
          const res = await callUnary(c, 'getVersions', {}, { timeoutMs: 5_000 });
          return [name, res.models.find((m) => m.model === MODEL)?.servingVersion ?? ''] as const;
        }),
      ),
    );
  const viewerHolds = async () =>
    (await callUnary(viewer, 'listVersions', { model: MODEL }, { timeoutMs: 5_000 })).versions.map((v) => v.version);
  const state = async (version: string) => (await new ModelRegistry(registryDir).get(MODEL, version)).state;
  const history = async (version: string) => (await new ModelRegistry(registryDir).get(MODEL, version)).history;

  let rollout: RolloutResult;
  let traffic: Awaited<ReturnType<typeof feedTraffic>>;

  it('rolls v0002 out to every host under feed traffic: no failed request, no version mismatch', async () => {
    expect(await served()).toEqual({ a: 'v0001', b: 'v0001' });
    traffic = await feedTraffic(mesh, world);
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        timeline.push({ atMs: Date.now(), viewer: await viewerHolds(), hosts: await served() });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const logs: string[] = [];
    rollout = await rolloutVersion({
      mesh: mesh.mesh,
      model: MODEL,
      indexDelayMs: INDEX_DELAY_MS,
      log: (l) => logs.push(l),
    });
    await new Promise((r) => setTimeout(r, 1_000));
    watching = false;
    await watcher;
    await traffic.stop();
    console.error(logs.join('\n'));
    console.error(
      `feed answers during the rollout: ${traffic.answers.length} (${traffic.answers.filter((a) => a.version === 'v0002').length} from v0002), failures: ${traffic.failures.length}`,
    );

    expect(rollout.outcome, rollout.reason).toBe('serving');
    expect(rollout).toMatchObject({ version: 'v0002', previous: 'v0001' });
    expect(rollout.stages.map((s) => s.stage)).toEqual(['viewer', 'index', 'canary', 'guards', 'hosts', 'done']);
    expect(await served()).toEqual({ a: 'v0002', b: 'v0002' });
    expect(traffic.failures).toEqual([]);
    // Every answer names one version: the user embedding's and the answering index's agree.
    expect(traffic.answers.filter((a) => !/^v\d{4}$/.test(a.version))).toEqual([]);
    expect(new Set(traffic.answers.map((a) => a.version))).toEqual(new Set(['v0001', 'v0002']));
    expect(traffic.answers.at(-1)!.version).toBe('v0002');
    // The registry shows every step.
    expect(await state('v0002')).toBe('serving');
    expect(await state('v0001')).toBe('retired');
    expect((await history('v0002')).at(-1)!.note).toMatch(/canary a serves it/);
  }, 300_000);

  it('with a slow indexer, the viewer holds the new version long before any host serves it', () => {
    const viewerAt = timeline.find((t) => t.viewer.includes('v0002'))!.atMs;
    const canaryAt = timeline.find((t) => t.hosts.a === 'v0002')!.atMs;
    const lastAt = timeline.find((t) => t.hosts.a === 'v0002' && t.hosts.b === 'v0002')!.atMs;
    expect(canaryAt - viewerAt).toBeGreaterThanOrEqual(INDEX_DELAY_MS);
    // The canary took it first; b stayed on v0001 until the guards had passed.
    expect(timeline.some((t) => t.hosts.a === 'v0002' && t.hosts.b === 'v0001')).toBe(true);
    expect(lastAt).toBeGreaterThanOrEqual(canaryAt);
  });

  it('a version whose towers disagree fails the canary recall probe and is rolled back by itself', async () => {
    const bad = await publishMixedTowers(registryDir, 'v0002', 'v0001');
    // Through the CLI, as an operator would run it: exit code 1 when the version was rolled back.
    const env = { ...process.env, FEEDLOOM_CONFIG: mesh.configPath };
    const exit = await run(
      process.execPath,
      ['bin/feedloom.js', 'rollout', '--model', MODEL, '--version', bad, '--json'],
      { env, timeout: 240_000 },
    ).then(
      () => ({ code: 0, stdout: '' }),
      (err: { code: number; stdout: string }) => err,
    );
    expect(exit.code).toBe(1);
    const result: RolloutResult = JSON.parse(exit.stdout);
    console.error(`guard: ${result.reason}`);
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/canary guard failed on a: .*recall probe/);
    expect(result.guard!.candidate.recall).toBeLessThan(result.guard!.previous!.recall);
    expect(await served()).toEqual({ a: 'v0002', b: 'v0002' });
    expect(await state(bad)).toBe('rolled_back');
    expect((await history(bad)).map((h) => h.state)).toEqual([
      'training',
      'trained',
      'validated',
      'published',
      'serving',
      'rolled_back',
    ]);
    expect((await history(bad)).at(-1)!.note).toMatch(/recall probe/);
  }, 300_000);

  it('a truncated index is refused by the canary at load, and the old version keeps serving', async () => {
    const broken = await publishMixedTowers(registryDir, 'v0002', 'v0002');
    const { dir } = await runIndexer({ registryDir, worldDir: world, version: broken });
    await truncate(join(dir, INDEX_FILE), 100);
    const result = await rolloutVersion({ mesh: mesh.mesh, model: MODEL, version: broken });
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/canary a could not serve .*refuses/);
    expect(await served()).toEqual({ a: 'v0002', b: 'v0002' });
    expect(await state(broken)).toBe('rolled_back');
  }, 300_000);

  it('a truncated ONNX file is refused before any step, and nothing changes in serving', async () => {
    const dir = join(registryDir, MODEL, 'v0005');
    const broken = await publishMixedTowers(registryDir, 'v0002', 'v0002', (d) =>
      truncate(join(d, 'user_tower.onnx'), 1_000),
    );
    expect(broken).toBe('v0005');
    const result = await rolloutVersion({ mesh: mesh.mesh, model: MODEL, version: broken });
    expect(result.outcome).toBe('rolled_back');
    expect(result.reason).toMatch(/refused before any step: .*user_tower\.onnx: 1000 bytes/);
    expect(await served()).toEqual({ a: 'v0002', b: 'v0002' });
    expect((await history(broken).catch(() => undefined)) ?? 'unreadable').toBe('unreadable');
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).state).toBe('rolled_back');
    expect(await viewerHolds()).not.toContain(broken);
  }, 120_000);

  it('feedloom rollback returns every host to v0001 within seconds while feeds keep flowing', async () => {
    traffic = await feedTraffic(mesh, world);
    const env = { ...process.env, FEEDLOOM_CONFIG: mesh.configPath };
    const { stdout } = await run(
      process.execPath,
      ['bin/feedloom.js', 'rollback', '--to', 'v0001', '--reason', 'test: manual rollback', '--json'],
      { env, timeout: 120_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    await traffic.stop();
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    console.error(
      `rollback v0002 → v0001 took ${result.ms} ms; feed answers meanwhile: ${traffic.answers.length}, failures: ${traffic.failures.length}`,
    );
    expect(result).toMatchObject({ model: MODEL, from: 'v0002', to: 'v0001' });
    expect(result.ms).toBeLessThan(10_000);
    expect(await served()).toEqual({ a: 'v0001', b: 'v0001' });
    expect(await state('v0001')).toBe('serving');
    expect(await state('v0002')).toBe('rolled_back');
    expect(traffic.failures).toEqual([]);
    expect(traffic.answers.filter((a) => !/^v\d{4}$/.test(a.version))).toEqual([]);

    // status shows what each host serves and the versions' histories.
    const status = JSON.parse(
      (await run(process.execPath, ['bin/feedloom.js', 'status', '--json'], { env, timeout: 60_000 })).stdout,
    );
    const row = (name: string) => status.services.find((s: { name: string }) => s.name === name);
    expect(row('ann.a').serves).toMatch(/^two_tower v0001 /);
    expect(row('ann.b').serves).toMatch(/^two_tower v0001 /);
    expect(row('viewer').serves).toMatch(/two_tower holds .*v0001/);
    const versions = status.registry.models.find((m: { model: string }) => m.model === MODEL).versions;
    expect(
      versions.find((v: { version: string }) => v.version === 'v0002').history.map((h: { state: string }) => h.state),
    ).toEqual(['training', 'trained', 'validated', 'published', 'serving', 'rolled_back']);
  }, 300_000);
});

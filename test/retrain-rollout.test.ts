// A full cycle on the tiny world with --rollout, on a mesh of real child processes (events, viewer,
// ANN hosts a and b, generators, blender): the cycle trains a new two_tower version, gates it
// against the serving one, publishes it and hands it to the staged rollout while feed requests
// flow. No request may fail, and no answer may mix a user embedding of one version with the index
// of another.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../libs/registry/index.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { runCycle } from '../services/offline/retrain/cycle.js';
import { rolloutPublished } from '../services/ops/rollout/retrain-hand-off.js';
import { testWorld } from './fixtures/world.js';
import { trainedRegistry } from './fixtures/learned.js';
import {
  MODEL,
  annServing,
  feedTraffic,
  startLearnedMeshProcesses,
  walkTo,
  type LearnedMeshProcesses,
} from './fixtures/rollout.js';

describe('feedloom retrain --rollout on a mesh of real processes', () => {
  let world: string;
  let registryDir: string;
  let mesh: LearnedMeshProcesses;
  let ann: ReturnType<typeof annServing>;

  beforeAll(async () => {
    world = await testWorld();
    registryDir = await trainedRegistry(world, [1]);
    await runIndexer({ registryDir, worldDir: world, version: 'v0001' });
    await walkTo(registryDir, 'v0001', 'serving');
    mesh = await startLearnedMeshProcesses(world, registryDir);
    ann = annServing(mesh);
  }, 600_000);

  afterAll(async () => {
    ann?.close();
    await mesh?.stop();
  });

  it('publishes a new version and every host ends up on it with zero failed requests and zero mismatches', async () => {
    expect(await ann.served()).toEqual({ a: 'v0001', b: 'v0001' });
    const traffic = await feedTraffic(mesh, world);
    const logs: string[] = [];
    // v0001 saw the same days (the test world does not grow): --force trains anyway.
    // This test is about the hand-off to the rollout, not the gates (test/retrain-cycle.test.ts): on
    // the same data, the new version may land a little below v0001 (another seed), so allow it.
    const config = {
      ...mesh.mesh,
      retrain: { ...mesh.mesh.retrain, gates: { ...mesh.mesh.retrain.gates, maxRecallDropRelative: 0.5 } },
    };
    const { report } = await runCycle({
      mesh: config,
      worldDir: world,
      registryDir,
      models: ['two_tower'],
      rollout: rolloutPublished,
      force: true,
      log: (l) => logs.push(l),
    });
    await new Promise((r) => setTimeout(r, 1_000));
    await traffic.stop();
    console.error(logs.filter((l) => !l.startsWith('dataset')).join('\n'));

    const [tt] = report.models;
    expect([tt.version, tt.incumbent, tt.outcome], tt.reasons.join('; ')).toEqual(['v0002', 'v0001', 'published']);
    expect(tt.rollout, tt.rollout?.detail).toMatchObject({ ok: true });
    expect(await ann.served()).toEqual({ a: 'v0002', b: 'v0002' });
    expect(traffic.failures).toEqual([]);
    expect(traffic.answers.length).toBeGreaterThan(0);
    // One version per answer: the user embedding's and the answering index's agree.
    expect(traffic.answers.filter((a) => !/^v\d{4}$/.test(a.version))).toEqual([]);
    expect(traffic.answers.at(-1)!.version).toBe('v0002');
    const registry = new ModelRegistry(registryDir);
    expect((await registry.get(MODEL, 'v0002')).history.map((h) => h.state)).toEqual([
      'training',
      'trained',
      'validated',
      'published',
      'serving',
    ]);
    expect((await registry.get(MODEL, 'v0001')).state).toBe('retired');
  }, 600_000);
});

// Shared by test/rollout-*.test.ts: a learned mesh run as real child processes (one per service, as
// `make up` runs it) over a registry of really trained two-tower versions, feed traffic with its
// answers recorded, and registry helpers (publish, a broken version built from real towers).
import type { ChildProcess } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlenderClient, SourceState } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { messageOf } from '../libs/bootstrap/errors.js';
import { ModelRegistry, type ModelState } from '../libs/registry/index.js';
import { spawnComponent } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { freePorts } from './learned-fixtures.js';

export const MODEL = 'two_tower';

/** Walks a version from trained (or where it is) to `to`, the way retraining and rollout would. */
export async function walkTo(registryDir: string, version: string, to: ModelState): Promise<void> {
  const registry = new ModelRegistry(registryDir);
  const path: ModelState[] = ['trained', 'validated', 'published', 'serving'];
  const from = (await registry.get(MODEL, version)).state;
  for (const state of path.slice(path.indexOf(from) + 1, path.indexOf(to) + 1)) await registry.setState(MODEL, version, state, 'test setup');
}

/**
 * A published version whose towers come from two independently trained versions: real ONNX files
 * that load and run, but whose user and item embeddings live in unrelated spaces (a broken export).
 */
export async function publishMixedTowers(registryDir: string, userFrom: string, itemFrom: string, damage?: (dir: string) => Promise<unknown>): Promise<string> {
  const registry = new ModelRegistry(registryDir);
  const users = await registry.get(MODEL, userFrom);
  const items = await registry.get(MODEL, itemFrom);
  const { model: _m, version: _v, createdAtMs: _c, artifacts: _a, ...manifest } = users.manifest;
  const created = await registry.create(
    MODEL,
    async (dir) => {
      await copyFile(join(users.dir, 'user_tower.onnx'), join(dir, 'user_tower.onnx'));
      await copyFile(join(items.dir, 'item_tower.onnx'), join(dir, 'item_tower.onnx'));
      return manifest;
    },
    { note: `user tower of ${userFrom}, item tower of ${itemFrom}` },
  );
  // Still `training` here: no service loads it before the damage is done.
  await damage?.(created.dir);
  await walkTo(registryDir, created.version, 'published').catch(async (err) => {
    if (!damage) throw err;
    // setState re-reads the damaged version and throws after writing: walk one state at a time.
    for (const state of ['trained', 'validated', 'published'] as const) await registry.setState(MODEL, created.version, state).catch(() => {});
  });
  return created.version;
}

export interface LearnedMeshProcesses {
  configPath: string;
  mesh: ReturnType<typeof testMeshConfig>['mesh'];
  blenderAddress: string;
  stop(): Promise<void>;
}

/** events, viewer, ANN hosts a and b, popular and two_tower generators and the blender, one process each. */
export async function startLearnedMeshProcesses(worldDir: string, registryDir: string, rollout: Record<string, unknown> = {}): Promise<LearnedMeshProcesses> {
  const [events, blender, viewer, a, b, popular, twoTower] = await freePorts(7);
  const config = testMeshConfig(worldDir, (raw) => {
    raw.registryDir = registryDir;
    // The viewer finds new registry versions within a fraction of a second.
    raw.snapshotPollMs = 300;
    raw.telemetry = { metricsPortOffset: 0 };
    raw.services.events.port = events;
    raw.services.blender.port = blender;
    raw.services.viewer = { port: viewer, keepVersions: 3 };
    delete raw.services.ranker;
    raw.ann = { hosts: [{ name: 'a', port: a }, { name: 'b', port: b }], efSearch: 128, nprobe: 8 };
    raw.generators = raw.generators.filter((g: { name: string }) => ['popular', 'two_tower'].includes(g.name));
    raw.generators.find((g: { name: string }) => g.name === 'popular').port = popular;
    raw.generators.find((g: { name: string }) => g.name === 'two_tower').port = twoTower;
    raw.rollout = { canary: 'a', loadTimeoutMs: 60_000, ...rollout };
  });
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map((child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })),
    );
  };
  try {
    const start = async (name: string) => {
      const started = await spawnComponent(config.path, name);
      children.push(started.child);
      return started.address;
    };
    await start('events');
    await Promise.all(['viewer', 'ann.a', 'ann.b', 'popular', 'two_tower'].map(start));
    const blenderAddress = await start('blender');
    return { configPath: config.path, mesh: config.mesh, blenderAddress, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface FeedAnswer {
  atMs: number;
  /** two_tower's model_version: one version when user embedding and index agree, user:…/index:… when not. */
  version: string;
}

/** Feed requests in a few parallel lanes until stopped; every failure (or failed two_tower source) is kept. */
export async function feedTraffic(mesh: LearnedMeshProcesses, worldDir: string, lanes = 3) {
  const users = await activeUsers(worldDir, 20);
  const client = connect(BlenderClient, mesh.blenderAddress);
  const answers: FeedAnswer[] = [];
  const failures: string[] = [];
  let stopped = false;
  const lane = async (offset: number) => {
    for (let i = offset; !stopped; i++) {
      const userId = users[i % users.length];
      try {
        const res = await callUnary(client, 'blend', { userId, limit: 30, debug: false, requestId: '' }, { timeoutMs: 20_000 });
        const source = res.sources.find((s) => s.generator === MODEL);
        if (!source || source.state !== SourceState.SOURCE_STATE_OK) failures.push(`${userId}: two_tower ${source ? `${SourceState[source.state]} ${source.error}` : 'missing'}`);
        else answers.push({ atMs: Date.now(), version: source.modelVersion });
      } catch (err) {
        failures.push(`${userId}: ${messageOf(err)}`);
      }
    }
  };
  const running = Array.from({ length: lanes }, (_, i) => lane(i * 7));
  return {
    answers,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(running);
      client.close();
    },
  };
}

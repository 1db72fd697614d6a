// The mf generator on factors trained for real (mf_bpr.py on the tiny world), served over gRPC.
import fs from 'node:fs/promises';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { readSnapshot } from '../../../libs/data/snapshots.js';
import { DAY_MS } from '../../../libs/data/world.js';
import { startGeneratorForTest } from '../../../libs/generator-sdk/testing.js';
import { ModelRegistry, verifyArtifacts } from '../../../libs/registry/registry.js';
import { mfFactors, MF_SNAPSHOT, trainMf, type TrainMfResult } from '../../../libs/training/mf.js';
import { activeUsers, startTestEvents } from '../../../test/fixtures/events.js';
import { testWorld } from '../../../test/fixtures/world.js';
import generator from './generator.js';

describe(`generator ${generator.name}`, () => {
  let served: Awaited<ReturnType<typeof startGeneratorForTest>>;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let users: string[];
  let work: string;
  let trained: TrainMfResult;

  beforeAll(async () => {
    const world = await testWorld();
    work = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-mf-'));
    // The shared test world is read-only: factors go to this test's own registry and snapshots.
    // One day is held out so the trainer reports recall on it.
    trained = await trainMf({
      worldDir: world,
      registryRoot: path.join(work, 'models'),
      snapshotsDir: path.join(work, 'snapshots'),
      holdoutMs: DAY_MS,
      epochs: 15,
    });
    served = await startGeneratorForTest(generator, path.join(work, 'snapshots'));
    events = await startTestEvents(world);
    users = await activeUsers(world, 5);
  }, 120_000);
  afterAll(async () => {
    await served?.stop();
    await events?.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('trains real factors: registered as a trained version, better than random on the held-out day', async () => {
    const info = (await new ModelRegistry(path.join(work, 'models')).latest('mf'))!;
    expect(info.version).toBe('v0001');
    expect(info.state).toBe('trained');
    expect(Object.keys(info.manifest.artifacts).sort()).toEqual([
      'item_factors.npy',
      'items.json',
      'user_factors.npy',
      'users.json',
    ]);
    await verifyArtifacts(info);
    expect(trained.metrics.train_auc).toBeGreaterThan(0.8);
    expect(trained.metrics['val_recall@100']).toBeGreaterThan((2 * 100) / trained.counts.items);
  });

  it('describes itself', async () => {
    const about = await served.describe();
    expect(about.name).toBe('mf');
    expect(about.description).not.toBe('');
    expect(about.snapshots).toEqual([expect.objectContaining({ name: MF_SNAPSHOT, version: trained.snapshotVersion })]);
    expect(about.snapshots[0].rows).toBe(1 + trained.counts.users + trained.counts.items);
  });

  it('proposes exactly the unengaged items whose factors score highest for the user, best first', async () => {
    const { rows } = await readSnapshot(path.join(work, 'snapshots'), mfFactors);
    const vector = (b64: string) => {
      const buf = Buffer.from(b64, 'base64');
      return Array.from({ length: buf.length / 4 }, (_, k) => buf.readFloatLE(k * 4));
    };
    const items = rows
      .filter((r) => r.kind === 'item')
      .map((r) => ({ id: (r as { id: string }).id, f: vector((r as { f: string }).f) }));
    for (const userId of users) {
      const user = await events.context(userId);
      const response = await served.generate(user, 30);
      expect(response.generator).toBe('mf');
      expect(response.modelVersion).toBe('v0001');
      const row = rows.find((r) => r.kind === 'user' && r.id === userId) as { f: string };
      const u = vector(row.f);
      // Engaged anywhere in the history: the recent actions and the engaged filter.
      const engaged = engagedItems(user);
      const expected = items
        .filter((i) => !engaged.has(i.id))
        .map((i) => ({ id: i.id, score: i.f.reduce((s, x, k) => s + x * u[k], 0) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 30);
      expect(response.candidates.map((c) => c.itemId)).toEqual(expected.map((e) => e.id));
      response.candidates.forEach((c, k) => expect(c.score).toBeCloseTo(expected[k].score, 3));
      expect(response.candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
    }
  });

  it('gives a user it has no factors for nothing, without an error', async () => {
    const response = await served.generate(
      UserContext.fromPartial({ userId: 'nobody_new', requestTimeMs: Date.UTC(2026, 0, 20) }),
      20,
    );
    expect(response.candidates).toEqual([]);
  });
});

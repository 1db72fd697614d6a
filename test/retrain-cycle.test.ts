// Retraining cycles with the real trainers on a tiny simulated world:
//   1. a first cycle publishes both models (nothing serves yet, so only the floors apply);
//   2. the world goes on for four more days (new items, drifting interests); a second cycle's
//      two-tower model, trained on the newer data, beats the stale serving one on the newest day;
//   3. a deliberately broken run (a learning rate that collapses the embeddings) is rejected by the
//      gates with the reasons in its state history, and nothing that serves changes.
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servableVersions } from '../libs/ann/model-versions.js';
import { parseMeshConfig, type MeshConfig } from '../libs/config/mesh.js';
import { continueWorld, simulateWorld } from '../libs/data/simulator/index.js';
import { lastCycleReport } from '../libs/registry/cycles.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { SERVABLE_STATES } from '../services/ranker/model-store.js';
import { runCycle } from '../services/offline/retrain/cycle.js';

const quiet = () => {};
const CONFIG = fileURLToPath(new URL('../config/mesh.json', import.meta.url));

describe('retraining cycles (real trainers, tiny world)', () => {
  let tmp: string;
  let worldDir: string;
  let registryDir: string;
  let registry: ModelRegistry;
  let mesh: MeshConfig;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-retrain-'));
    worldDir = path.join(tmp, 'world');
    registryDir = path.join(tmp, 'models');
    registry = new ModelRegistry(registryDir);
    await simulateWorld({ preset: 'tiny', seed: 11, dir: worldDir, days: 8, log: quiet });
    const raw = JSON.parse(readFileSync(CONFIG, 'utf8'));
    // Fewer ranker epochs than the default: the test needs real, working models, not the best ones.
    mesh = parseMeshConfig({
      ...raw,
      world: { ...raw.world, dir: worldDir },
      registryDir,
      // The two-tower as the old trainer had it: this test needs a model that goes stale in four days.
      // With the current defaults (no request-time inputs) the tiny world's day-8 model is as good
      // on day 12 as a retrained one (docs/RELEVANCE.md), so "newer data wins" cannot be shown there.
      retrain: {
        ranker: { epochs: 3 },
        twoTower: {
          epochs: 5,
          trainerArgs: [
            ...['--pooling', 'absolute', '--recency-power', '1', '--ignore', '', '--positive-features', 'event'],
            ...['--no-share-item-embedding', '--lr', '0.003', '--history-dropout', '0'],
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('a first cycle publishes both models, records the gates in their history and writes its report', async () => {
    const { report, reportFile } = await runCycle({ mesh, log: quiet });
    expect(report.error).toBeUndefined();
    expect(report.window).toMatchObject({
      heldoutDays: 1,
      endMs: Date.UTC(2026, 0, 9),
      heldoutStartMs: Date.UTC(2026, 0, 8),
      trainStartMs: Date.UTC(2026, 0, 1),
    });
    expect(report.models.map((m) => [m.model, m.version, m.outcome, m.incumbent])).toEqual([
      ['two_tower', 'v0001', 'published', undefined],
      ['ranker', 'v0001', 'published', undefined],
    ]);
    const [tt, ranker] = report.models;
    expect(tt.metrics.candidate!['recall@100']).toBeGreaterThan(mesh.retrain.gates.minRecallAtK);
    expect(tt.checks.map((c) => c.gate)).toEqual([
      'finite',
      'user_norm',
      'item_norm',
      'item_collapse',
      'user_collapse',
      'min_recall',
    ]);
    expect(ranker.metrics.candidate!.auc_click).toBeGreaterThan(mesh.retrain.gates.minRankerAuc);
    expect(ranker.checks.every((c) => c.passed)).toBe(true);

    for (const model of ['two_tower', 'ranker']) {
      const info = await registry.get(model, 'v0001');
      expect(info.history.map((h) => h.state)).toEqual(['training', 'trained', 'validated', 'published']);
      expect(info.history[2].note).toContain(`cycle ${report.id}`);
    }
    // The report on disk is the one returned, and status finds it as the last cycle.
    expect(path.dirname(reportFile)).toBe(path.join(registryDir, 'cycles'));
    expect(JSON.parse(await fs.readFile(reportFile, 'utf8'))).toEqual(JSON.parse(JSON.stringify(report)));
    expect((await lastCycleReport(registryDir))?.id).toBe(report.id);
    await expect(fs.access(path.join(registryDir, 'retrain.lock'))).rejects.toThrow();
  }, 600_000);

  it('after four more days, a retrain on the newer data beats the stale serving model on the newest day', async () => {
    // v0001 of both models is rolled out (serving) and goes stale while the world goes on.
    for (const model of ['two_tower', 'ranker'])
      await registry.setState(model, 'v0001', 'serving', 'rolled out (test)');
    const world = await continueWorld(worldDir, 4, { log: quiet });
    expect(world.days).toBe(12);

    const { report } = await runCycle({ mesh, log: quiet });
    expect(report.window).toMatchObject({ heldoutStartMs: Date.UTC(2026, 0, 12), endMs: Date.UTC(2026, 0, 13) });
    const [tt, ranker] = report.models;
    expect([tt.version, tt.incumbent, tt.outcome]).toEqual(['v0002', 'v0001', 'published']);
    const fresh = tt.metrics.candidate!['recall@100'];
    const stale = tt.metrics.incumbent!['recall@100'];
    // Measurably better: more than the 5% the regression gate tolerates in the other direction.
    expect(fresh).toBeGreaterThan(stale * 1.05);
    expect(tt.checks.find((c) => c.gate === 'recall_regression')?.passed).toBe(true);

    // The ranker is compared with the serving ranker on the same held-out sessions; whichever way
    // it goes, the outcome follows the checks and the state history says why.
    expect([ranker.version, ranker.incumbent]).toEqual(['v0002', 'v0001']);
    expect(ranker.metrics.incumbent!.auc_click).toBeGreaterThan(0.5);
    expect(ranker.checks.some((c) => c.gate === 'auc_click_regression')).toBe(true);
    const rankerState = (await registry.get('ranker', 'v0002')).state;
    if (ranker.checks.every((c) => c.passed)) expect([ranker.outcome, rankerState]).toEqual(['published', 'published']);
    else expect([ranker.outcome, rankerState, ranker.reasons.length > 0]).toEqual(['rejected', 'rejected', true]);
  }, 600_000);

  it('a broken training run (collapsed embeddings) is rejected by the gates and nothing serving changes', async () => {
    const before = await registryStates();
    const servableBefore = (await servableVersions(registry, 'two_tower')).versions.map((v) => v.version);

    // A real trainer run with a learning rate that kills the towers' ReLUs: every item and user gets nearly the same vector.
    // Nothing new since the last cycle: skipped unless forced.
    const idle = await runCycle({ mesh, log: quiet });
    expect(idle.report.models.map((m) => [m.model, m.outcome])).toEqual([
      ['two_tower', 'skipped'],
      ['ranker', 'skipped'],
    ]);
    expect(idle.report.models[0].notes[0]).toMatch(
      /no new data: two_tower v0002 \(published\) was already trained on the log up to 2026-01-13/,
    );
    expect(await registryStates()).toEqual(before);

    const { report } = await runCycle({
      mesh,
      models: ['two_tower'],
      twoTowerTrainerArgs: ['--lr', '1000'],
      force: true,
      log: quiet,
    });
    const [tt] = report.models;
    expect([tt.version, tt.outcome, tt.incumbent]).toEqual(['v0003', 'rejected', 'v0001']);
    const failed = tt.checks.filter((c) => !c.passed).map((c) => c.gate);
    expect(failed).toEqual(expect.arrayContaining(['item_collapse', 'user_collapse']));
    expect(tt.metrics.candidate!.user_mean_pairwise_cosine).toBeGreaterThan(mesh.retrain.gates.maxMeanCosine);

    const broken = await registry.get('two_tower', 'v0003');
    expect(broken.history.map((h) => h.state)).toEqual(['training', 'trained', 'rejected']);
    expect(broken.history[2].note).toMatch(/collapse: .*mean pairwise cosine 0\.9\d+ is not below 0\.900/);

    // Every other version kept its state and history; the serving ones still serve; the broken one
    // is not servable (viewer, ANN hosts) and the ranker was not touched.
    const after = await registryStates();
    delete after['two_tower/v0003'];
    expect(after).toEqual(before);
    expect(before['two_tower/v0001'].state).toBe('serving');
    expect(before['ranker/v0001'].state).toBe('serving');
    expect((await servableVersions(registry, 'two_tower')).versions.map((v) => v.version)).toEqual(servableBefore);
    expect(SERVABLE_STATES).not.toContain('rejected');
    expect((await lastCycleReport(registryDir))?.id).toBe(report.id);
  }, 600_000);

  async function registryStates(): Promise<Record<string, { state: string; history: number }>> {
    const out: Record<string, { state: string; history: number }> = {};
    for (const model of await registry.models())
      for (const v of await registry.list(model))
        out[`${model}/${v.version}`] = { state: v.state, history: v.history.length };
    return out;
  }
});

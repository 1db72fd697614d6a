// The no-hides ranker test: a MovieLens-layout ratings log (user, item, rating, time; no hides, no
// impressions of its own, no creators, boards or topics) is imported and the ranker is trained on it
// with the real Python trainer, on the budget `up` gives it. It must be published, beat popularity
// order on the held-out sessions, and write no NaN anywhere: auc_hide cannot be computed and is absent.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInteractions } from '../libs/data/importer.js';
import { UDATA_SMALL, writeUData } from '../libs/data/udata-fixture.js';
import type { RankerDatasetManifest } from '../libs/ranking/dataset.js';
import { trainRanker, type TrainRankerResult } from '../services/offline/trainer/train-ranker.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-ranker-imported-'));
const worldDir = join(tmp, 'world');
const workDir = join(tmp, 'work');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every number in a parsed JSON value, with its path; JSON.parse already refused bare NaN tokens. */
function numbers(value: unknown, path = ''): [string, unknown][] {
  if (value === null) return [[path, null]];
  if (Array.isArray(value)) return value.flatMap((v, i) => numbers(v, `${path}[${i}]`));
  if (typeof value === 'object') return Object.entries(value as object).flatMap(([k, v]) => numbers(v, `${path}.${k}`));
  return typeof value === 'number' ? [[path, value]] : [];
}

describe('the ranker on an imported ratings log without hides', () => {
  let result: TrainRankerResult;

  beforeAll(async () => {
    const input = join(tmp, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    // What `up --world` runs (services/offline/trainer/prepare-world.ts): one epoch, a time budget.
    result = await trainRanker({
      worldDir,
      registryDir: join(worldDir, 'models'),
      epochs: 1,
      trainerArgs: ['--max-train-seconds', '90'],
      workDir,
    });
  }, 300_000);

  it('learns from interactions and sampled negatives, since the log has no impressions of its own', () => {
    const dataset = JSON.parse(readFileSync(join(workDir, 'dataset', 'dataset.json'), 'utf8')) as RankerDatasetManifest;
    expect(dataset.labels).toEqual({ kind: 'sampled_negatives', baseline: 'popularity', negativesPerPositive: 4 });
    expect(dataset.counts.positives.hide).toBe(0);
    expect(dataset.counts.sampledNegatives).toBeGreaterThan(3 * dataset.counts.positives.click);
    // A held-out window large enough to measure: at least 5% of the sessions.
    expect(dataset.counts.valSessions).toBeGreaterThanOrEqual(
      0.05 * (dataset.counts.trainSessions + dataset.counts.valSessions) - 1,
    );
  });

  it('is published: it beats popularity order on held-out click and save AUC', () => {
    expect(result.info.state).toBe('published');
    expect(result.validated).toBe(true);
    const { heldout, baselines } = result;
    expect(heldout.auc_click).toBeGreaterThan(baselines.popularity.auc_click!);
    expect(heldout.auc_save).toBeGreaterThan(baselines.popularity.auc_save!);
    expect(result.validationNote).toMatch(/auc_click .* \(popularity /);
  });

  it('reports auc_hide as absent and writes no NaN or null metric into any JSON', () => {
    expect('auc_hide' in result.heldout).toBe(false);
    expect('auc_hide' in result.baselines.popularity).toBe(false);
    const reportFile = readdirSync(workDir).find((f) => f.startsWith('report-'))!;
    const report = JSON.parse(readFileSync(join(workDir, reportFile), 'utf8'));
    expect(report.absent_metrics).toContain('auc_hide');
    expect(report.metrics).not.toHaveProperty('auc_hide');
    expect(report.metrics.auc_click).toBeGreaterThan(0.5);
    const manifestText = readFileSync(join(result.info.dir, 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText);
    expect(manifest.metrics).not.toHaveProperty('auc_hide');
    expect(manifest.metrics).not.toHaveProperty('onnx_auc_hide');
    for (const json of [report, manifest]) {
      const bad = numbers(json).filter(([, v]) => typeof v !== 'number' || !Number.isFinite(v));
      expect(bad.filter(([p]) => /metric|heldout/.test(p))).toEqual([]);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import type { HeldoutMetrics } from '../../../libs/ranking/heldout.js';
import type { RetrievalMetrics } from '../../../libs/training/evaluate.js';
import { rankerGates, twoTowerGates } from './gates.js';

const gates = parseMeshConfig({
  world: { dir: 'x' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [{ name: 'popular', port: 3 }],
}).retrain.gates;

const retrieval = (over: Partial<RetrievalMetrics> = {}): RetrievalMetrics => ({
  recall: { 100: 0.4, 500: 0.8 },
  coverage100: 0.5,
  meanUserNorm: 1,
  meanItemNorm: 1,
  userNormRange: [0.999, 1.001],
  itemNormRange: [0.999, 1.001],
  itemMeanPairwiseCosine: 0.3,
  userMeanPairwiseCosine: 0.5,
  users: 100,
  items: 1000,
  ...over,
});

const ranking = (click: number, save: number): HeldoutMetrics => ({
  auc_click: click,
  auc_save: save,
  auc_hide: 0.6,
  hit3_save: 0.3,
  requests: 50,
  impressions: 900,
  requestsWithSave: 20,
});

const failed = (v: { checks: { gate: string; passed: boolean }[] }) =>
  v.checks.filter((c) => !c.passed).map((c) => c.gate);

describe('config defaults', () => {
  it('has gates for recall, regression, norms, collapse and ranker AUC', () => {
    expect(gates).toEqual({
      k: 100,
      minRecallAtK: 0.05,
      maxRecallDropRelative: 0.05,
      minEmbeddingNorm: 0.5,
      maxEmbeddingNorm: 2,
      maxMeanCosine: 0.9,
      minRankerAuc: 0.55,
      maxAucDropAbsolute: 0.01,
    });
  });

  it('names the field of a bad gate value', () => {
    expect(() =>
      parseMeshConfig({
        world: { dir: 'x' },
        services: { events: { port: 1 }, blender: { port: 2 } },
        generators: [{ name: 'popular', port: 3 }],
        retrain: { gates: { maxMeanCosine: 3 } },
      }),
    ).toThrow(/retrain\.gates\.maxMeanCosine/);
  });
});

describe('twoTowerGates', () => {
  it('passes a healthy version with no incumbent, and one that matches the incumbent', () => {
    expect(twoTowerGates(retrieval(), undefined, gates)).toMatchObject({ passed: true, reasons: [] });
    const v = twoTowerGates(retrieval(), retrieval({ recall: { 100: 0.41, 500: 0.8 } }), gates);
    expect(v.passed).toBe(true);
    expect(v.checks.map((c) => c.gate)).toContain('recall_regression');
  });

  it('rejects a recall drop beyond the relative bound, and allows one within it', () => {
    // 0.40 vs 0.43: a 7% relative drop (bound 5%); vs 0.415: 3.6%.
    const worse = twoTowerGates(retrieval(), retrieval({ recall: { 100: 0.43, 500: 0.8 } }), gates);
    expect(failed(worse)).toEqual(['recall_regression']);
    expect(worse.reasons[0]).toMatch(/recall@100 0\.4000 is below 0\.4085 \(serving 0\.4300/);
    expect(twoTowerGates(retrieval(), retrieval({ recall: { 100: 0.415, 500: 0.8 } }), gates).passed).toBe(true);
  });

  it('rejects recall under the floor', () => {
    expect(failed(twoTowerGates(retrieval({ recall: { 100: 0.01, 500: 0.1 } }), undefined, gates))).toEqual([
      'min_recall',
    ]);
  });

  it('rejects collapsed item or user embeddings', () => {
    expect(failed(twoTowerGates(retrieval({ itemMeanPairwiseCosine: 0.97 }), undefined, gates))).toEqual([
      'item_collapse',
    ]);
    expect(failed(twoTowerGates(retrieval({ userMeanPairwiseCosine: 0.999 }), undefined, gates))).toEqual([
      'user_collapse',
    ]);
  });

  it('rejects NaN anywhere, and norms outside the bounds', () => {
    const nan = twoTowerGates(retrieval({ userNormRange: [NaN, NaN], meanUserNorm: NaN }), undefined, gates);
    expect(failed(nan)).toEqual(['finite', 'user_norm']);
    expect(failed(twoTowerGates(retrieval({ itemNormRange: [0, 1] }), undefined, gates))).toEqual(['item_norm']);
    expect(failed(twoTowerGates(retrieval({ userNormRange: [1, 7] }), undefined, gates))).toEqual(['user_norm']);
  });

  it('refuses to judge without recall at the configured k', () => {
    expect(() => twoTowerGates(retrieval({ recall: { 500: 0.8 } }), undefined, gates)).toThrow(/no recall@100/);
  });
});

describe('rankerGates', () => {
  it('passes a ranker above the floor that does not regress', () => {
    expect(rankerGates(ranking(0.7, 0.75), ranking(0.705, 0.74), gates, { validated: true, note: 'ok' }).passed).toBe(
      true,
    );
  });

  it('rejects an absolute AUC drop beyond the bound', () => {
    const v = rankerGates(ranking(0.68, 0.75), ranking(0.7, 0.75), gates);
    expect(failed(v)).toEqual(['auc_click_regression']);
    expect(v.reasons[0]).toMatch(/auc_click 0\.6800 is below 0\.6900/);
  });

  it('rejects AUC under the floor, NaN AUC, and a failed trainer check', () => {
    expect(failed(rankerGates(ranking(0.52, 0.7), undefined, gates))).toEqual(['min_auc_click']);
    expect(failed(rankerGates(ranking(NaN, 0.7), undefined, gates))).toEqual(['finite', 'min_auc_click']);
    const v = rankerGates(ranking(0.7, 0.7), undefined, gates, {
      validated: false,
      note: 'ONNX auc_click differs from PyTorch',
    });
    expect(v.reasons).toEqual(['trainer_checks: ONNX auc_click differs from PyTorch']);
  });

  it('gates the heads a log can measure: no hides or saves held out is absent, not a failure; nothing measurable fails', () => {
    const noSaves: HeldoutMetrics = { auc_click: 0.7, requests: 50, impressions: 900, requestsWithSave: 0 };
    const v = rankerGates(noSaves, ranking(0.69, 0.75), gates);
    expect(v.passed).toBe(true);
    expect(v.checks.map((c) => c.gate)).toEqual(['finite', 'measurable', 'min_auc_click', 'auc_click_regression']);
    expect(v.checks[1].detail).toMatch(/auc_save absent/);
    expect(failed(rankerGates({ ...noSaves, auc_click: 0.5 }, undefined, gates))).toEqual(['min_auc_click']);
    expect(failed(rankerGates({ requests: 50, impressions: 900, requestsWithSave: 0 }, undefined, gates))).toEqual([
      'measurable',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import type { HeldoutMetrics } from '../../../libs/ranking/heldout.js';
import { validation, type TrainerReport } from './train-ranker.js';

const counts = { requests: 93, impressions: 18_600, requestsWithSave: 90 };
const model: HeldoutMetrics = { auc_click: 0.78, auc_save: 0.8, recall20_click: 0.305, ...counts };
const report: TrainerReport = {
  variant: 'sequence',
  metrics: { auc_click: 0.78, auc_save: 0.8 },
  onnx: { opset: 17, file: 'ranker.onnx', inputs: [], outputs: [] },
  training: {},
};

describe('ranker validation', () => {
  it('refuses a ranker of replayed candidates that puts fewer held-out clicks in the top 20 than the pre-score order', () => {
    const prescore: HeldoutMetrics = { auc_click: 0.69, auc_save: 0.73, recall20_click: 0.328, ...counts };
    const { validated, note } = validation(model, 'prescore', prescore, report);
    expect(validated).toBe(false);
    expect(note).toBe("held-out recall20_click 0.3050 is below the prescore order's recall20_click 0.3280");
  });

  it('judges the top 20 in the served order (by utility) when it was measured', () => {
    const prescore: HeldoutMetrics = { auc_click: 0.69, auc_save: 0.73, recall20_click: 0.3277, ...counts };
    // The click head alone is level with the pre-score order; the utility's order is below it.
    const tied = { ...model, recall20_click: 0.3282, recall20_utility: 0.31 };
    expect(validation(tied, 'prescore', prescore, report).note).toBe(
      "held-out recall20_utility 0.3100 is below the prescore order's recall20_click 0.3277",
    );
    expect(validation({ ...tied, recall20_utility: 0.34 }, 'prescore', prescore, report)).toMatchObject({
      validated: true,
    });
  });

  it('passes one that beats the pre-score order on AUC and is not below it at the top', () => {
    const prescore: HeldoutMetrics = { auc_click: 0.69, auc_save: 0.73, recall20_click: 0.29, ...counts };
    expect(validation(model, 'prescore', prescore, report)).toMatchObject({ validated: true });
  });

  it('compares AUC only against logged page positions (no top-20 of a request there)', () => {
    const position: HeldoutMetrics = { auc_click: 0.6, auc_save: 0.6, ...counts };
    expect(validation({ ...model, recall20_click: undefined }, 'position', position, report)).toMatchObject({
      validated: true,
    });
    expect(validation(model, 'position', { ...position, auc_click: 0.9 }, report).note).toMatch(
      /held-out auc_click 0.7800 does not beat position order 0.9000/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { tuneWeights } from './tune-weights.js';

describe('tuneWeights', () => {
  it('finds the weights that maximize the objective and reports the holdout', () => {
    // A toy objective peaking at a=2, b=0 (b only hurts), c indifferent.
    const recall = (w: Map<string, number>) => 1 - (w.get('a')! - 2) ** 2 / 10 - w.get('b')! / 10;
    const result = tuneWeights(['a', 'b', 'c'], { a: 1, b: 1, c: 1 }, (w) => recall(w));
    expect(result.weights).toEqual({ a: 2, b: 0, c: 1 });
    expect(result.after.tune).toBeCloseTo(1);
    expect(result.before.tune).toBeCloseTo(1 - 0.1 - 0.1);
    expect(result.after.holdout).toBeCloseTo(1);
  });
});

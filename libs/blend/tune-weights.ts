/**
 * Learns the blender's per-generator weights offline: coordinate ascent over a small grid,
 * maximizing blended recall on one half of the test users, reported on the other half too, so
 * the gain is not just fitted noise.
 */
export interface WeightTuning {
  weights: Record<string, number>;
  before: { tune: number; holdout: number };
  after: { tune: number; holdout: number };
}

const GRID = [0, 0.25, 0.5, 1, 2, 4];

export function tuneWeights(
  generators: string[],
  start: Record<string, number>,
  recallOf: (weights: Map<string, number>, users: 'tune' | 'holdout') => number,
  passes = 2,
): WeightTuning {
  const weights = new Map(generators.map((g) => [g, start[g] ?? 1]));
  const before = { tune: recallOf(weights, 'tune'), holdout: recallOf(weights, 'holdout') };
  let best = before.tune;
  for (let pass = 0; pass < passes; pass++) {
    let improved = false;
    for (const g of generators) {
      let bestWeight = weights.get(g)!;
      for (const candidate of GRID) {
        if (candidate === bestWeight) continue;
        weights.set(g, candidate);
        const recall = recallOf(weights, 'tune');
        // Better by a margin, so ties keep the weight already there.
        if (recall > best + 1e-4) {
          best = recall;
          bestWeight = candidate;
          improved = true;
        }
      }
      weights.set(g, bestWeight);
    }
    if (!improved) break;
  }
  return { weights: Object.fromEntries(weights), before, after: { tune: best, holdout: recallOf(weights, 'holdout') } };
}

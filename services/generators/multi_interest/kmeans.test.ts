import { describe, expect, it } from 'vitest';
import { seedOf, sphericalKMeans } from './kmeans.js';

describe('sphericalKMeans', () => {
  const around = (axis: number, jitter: number) => [0, 1, 2].map((j) => (j === axis ? 1 : jitter));

  it('separates points around different directions into their own clusters', () => {
    const points = [around(0, 0.1), around(0, 0.05), around(0, 0.12), around(1, 0.1), around(1, 0.02), around(2, 0.08)];
    const { centroids, assignment, weights } = sphericalKMeans(points, [1, 1, 1, 1, 1, 1], 3, { seed: 3 });
    expect(centroids).toHaveLength(3);
    expect(assignment[0]).toBe(assignment[1]);
    expect(assignment[1]).toBe(assignment[2]);
    expect(assignment[3]).toBe(assignment[4]);
    expect(new Set([assignment[0], assignment[3], assignment[5]]).size).toBe(3);
    expect(weights.reduce((a, b) => a + b, 0)).toBe(6);
    for (const c of centroids) expect(Math.hypot(...c)).toBeCloseTo(1, 6);
    // The cluster of the first three points points along axis 0.
    const c0 = centroids[assignment[0]];
    expect(c0[0]).toBeGreaterThan(0.95);
  });

  it('never makes more clusters than points, and drops empty ones', () => {
    expect(sphericalKMeans([[1, 0]], [1], 3).centroids).toEqual([[1, 0]]);
    expect(
      sphericalKMeans(
        [
          [1, 0],
          [1, 0],
          [1, 0],
        ],
        [1, 2, 3],
        3,
      ).centroids,
    ).toHaveLength(1);
    expect(sphericalKMeans([], [], 3).centroids).toEqual([]);
  });

  it('is repeatable for the same seed', () => {
    const points = Array.from({ length: 12 }, (_, i) => [Math.sin(i), Math.cos(i * 1.7), Math.sin(i * 0.3)]);
    const w = points.map(() => 1);
    expect(sphericalKMeans(points, w, 3, { seed: seedOf('u42') })).toEqual(
      sphericalKMeans(points, w, 3, { seed: seedOf('u42') }),
    );
  });
});

/**
 * Small weighted spherical k-means (cosine similarity) for a user's recent item vectors: a handful
 * to a few dozen points, so plain Lloyd iterations with a deterministic k-means++ start.
 */

export interface Clusters {
  /** Unit-length centroids. */
  centroids: number[][];
  /** Cluster of each point. */
  assignment: number[];
  /** Sum of the point weights in each cluster. */
  weights: number[];
}

export function sphericalKMeans(
  points: readonly (readonly number[])[],
  weights: readonly number[],
  k: number,
  options: { seed?: number; iterations?: number } = {},
): Clusters {
  const n = points.length;
  if (n === 0) return { centroids: [], assignment: [], weights: [] };
  const kk = Math.max(1, Math.min(k, n));
  const unit = points.map(normalize);
  const rand = mulberry32(options.seed ?? 1);
  // k-means++: first centre the heaviest point, then points far from the chosen ones, by weight.
  const centres: number[][] = [unit[argMax(weights)]];
  while (centres.length < kk) {
    const far = unit.map((p, i) => weights[i] * (1 - Math.max(...centres.map((c) => dot(p, c)))) ** 2);
    const total = far.reduce((a, b) => a + b, 0);
    if (total <= 1e-12) break; // every point sits on a centre already
    let r = rand() * total;
    let pick = 0;
    while (pick < n - 1 && (r -= far[pick]) > 0) pick++;
    centres.push(unit[pick]);
  }
  let assignment = new Array<number>(n).fill(-1);
  for (let iter = 0; iter < (options.iterations ?? 20); iter++) {
    const next = unit.map((p) => argMax(centres.map((c) => dot(p, c))));
    const changed = next.some((c, i) => c !== assignment[i]);
    assignment = next;
    for (let c = 0; c < centres.length; c++) {
      const sum = new Array<number>(unit[0].length).fill(0);
      let members = 0;
      unit.forEach((p, i) => {
        if (assignment[i] !== c) return;
        members++;
        for (let j = 0; j < sum.length; j++) sum[j] += weights[i] * p[j];
      });
      if (members > 0 && Math.hypot(...sum) > 1e-12) centres[c] = normalize(sum);
    }
    if (!changed) break;
  }
  // Drop centres nothing was assigned to.
  const used = [...new Set(assignment)].sort((a, b) => a - b);
  const remap = new Map(used.map((c, i) => [c, i]));
  const clusterWeights = used.map(() => 0);
  assignment = assignment.map((c, i) => {
    const to = remap.get(c)!;
    clusterWeights[to] += weights[i];
    return to;
  });
  return { centroids: used.map((c) => centres[c]), assignment, weights: clusterWeights };
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function normalize(v: readonly number[]): number[] {
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stable 32-bit seed from a string (e.g. the user id), so a user's clusters are repeatable. */
export function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

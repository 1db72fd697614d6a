// Confidence intervals over users by the bootstrap: the users are drawn again with replacement,
// the statistic is computed on each draw, and the interval comes from the middle `level` of those
// values. Over users, because users are what a variant is given to: their results are the
// independent units, not the items on their pages.
import { createRng } from '../data/random.js';

/** A statistic and its interval. */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** Resamples; 1,000 gives a 95% interval's ends to about ±0.5 percentage points of its level. */
  reps?: number;
  level?: number;
  seed?: number;
  /**
   * percentile (default): the middle of the draws, right for a mean over users. centered: the same
   * spread moved to sit around the value (each end minus the draws' mean drift), for a statistic a
   * resample itself pulls one way, e.g. distinct items over the users' lists, which the repeated
   * users of a draw make fewer: the drift is the resampling's, the spread is the users'.
   */
  method?: 'percentile' | 'centered';
}

/**
 * `statistic(users)` on all n users (indices 0..n-1), with the percentile bootstrap interval of it.
 * With fewer than two users there is nothing to resample: the interval is the value itself.
 */
export function bootstrapInterval(
  n: number,
  statistic: (users: ArrayLike<number>) => number,
  o: BootstrapOptions = {},
): Interval {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const value = statistic(all);
  if (n < 2) return { value, lo: value, hi: value };
  const reps = o.reps ?? 1_000;
  const rng = createRng(o.seed ?? 7);
  const draws = new Float64Array(reps);
  const sample = new Int32Array(n);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) sample[i] = rng.int(n);
    draws[r] = statistic(sample);
  }
  draws.sort();
  const tail = (1 - (o.level ?? 0.95)) / 2;
  const at = (q: number) => draws[Math.min(reps - 1, Math.max(0, Math.round(q * (reps - 1))))];
  if (o.method === 'centered') {
    const drift = draws.reduce((sum, x) => sum + x, 0) / reps - value;
    return { value, lo: at(tail) - drift, hi: at(1 - tail) - drift };
  }
  return { value, lo: at(tail), hi: at(1 - tail) };
}

/** The mean of per-user values, with its interval. */
export function meanInterval(values: ArrayLike<number>, o: BootstrapOptions = {}): Interval {
  return bootstrapInterval(
    values.length,
    (users) => {
      let sum = 0;
      for (let i = 0; i < users.length; i++) sum += values[users[i]];
      return users.length ? sum / users.length : 0;
    },
    o,
  );
}

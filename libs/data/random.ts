// Seeded pseudo-random numbers: xoshiro128** seeded through splitmix32.
// Everything random in the data world goes through this, so one seed fixes a whole world.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (mean 0, sd 1). */
  normal(): number;
  /** Poisson-distributed count with the given mean. */
  poisson(mean: number): number;
  pick<T>(arr: readonly T[]): T;
  /** Index drawn with probability proportional to weights[i] (weights >= 0). */
  weightedIndex(weights: ArrayLike<number>): number;
  /** Index drawn from a cumulative weight array (non-decreasing, last = total), by binary search. */
  cumulativeIndex(cumulative: ArrayLike<number>): number;
  /** Shuffles in place (Fisher–Yates) and returns the same array. */
  shuffle<T>(arr: T[]): T[];
}

/** Mixes any mix of numbers and strings into one 32-bit seed (FNV-1a, then a murmur finalizer). */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join('\u0001');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRng(seed: number | string): Rng {
  const init = splitmix32(typeof seed === 'number' ? seed : hashSeed(seed));
  let a = init(),
    b = init(),
    c = init(),
    d = init();
  if ((a | b | c | d) === 0) a = 1; // xoshiro must not start from the all-zero state
  let spareNormal: number | undefined;

  function nextU32(): number {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  }

  const next = () => nextU32() / 4294967296;

  const rng: Rng = {
    next,
    int: (n) => Math.floor(next() * n),
    normal() {
      if (spareNormal !== undefined) {
        const v = spareNormal;
        spareNormal = undefined;
        return v;
      }
      // Box–Muller; 1 - next() keeps the logarithm away from zero.
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      spareNormal = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
    poisson(mean) {
      if (mean <= 0) return 0;
      if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
      const limit = Math.exp(-mean);
      let k = 0;
      let p = next();
      while (p > limit) {
        k++;
        p *= next();
      }
      return k;
    },
    pick(arr) {
      if (arr.length === 0) throw new Error('pick from an empty array');
      return arr[Math.floor(next() * arr.length)];
    },
    weightedIndex(weights) {
      let total = 0;
      for (let i = 0; i < weights.length; i++) total += weights[i];
      if (!(total > 0)) throw new Error('weightedIndex needs at least one positive weight');
      let r = next() * total;
      for (let i = 0; i < weights.length; i++) {
        r -= weights[i];
        if (r < 0) return i;
      }
      // Rounding left a sliver: return the last positive weight.
      for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
      return weights.length - 1;
    },
    cumulativeIndex(cumulative) {
      const n = cumulative.length;
      if (n === 0 || !(cumulative[n - 1] > 0)) throw new Error('cumulativeIndex needs a positive total');
      const r = next() * cumulative[n - 1];
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid] > r) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    },
    shuffle(arr) {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const tmp = arr[i];
        arr[i] = arr[j];
        arr[j] = tmp;
      }
      return arr;
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

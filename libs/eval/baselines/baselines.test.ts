import { describe, expect, it } from 'vitest';
import { createRng } from '../../data/random.js';
import { buildInteractions, indicesOf } from '../interactions.js';
import { spdInverse } from '../spd-inverse.js';
import { unseenTop } from './unseen-top.js';
import { Ease, EASE_MAX_ITEMS, EaseRefused } from './ease.js';
import { ItemKnn } from './item-knn.js';
import { popularityScores } from './popularity.js';
import { pickEaseLambda } from './tune-ease.js';

const pairs = (rows: Record<string, string[]>) =>
  Object.entries(rows).flatMap(([u, items]) => items.map((i) => [u, i] as const));

/** Solves a·x = b by Gaussian elimination with partial pivoting (the reference the tests compare with). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    const p = m.slice(c).reduce((best, row, r) => (Math.abs(row[c]) > Math.abs(m[best][c]) ? r + c : best), c);
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

describe('spdInverse', () => {
  it('inverts a random SPD matrix: A·A⁻¹ = I', () => {
    const rng = createRng(3);
    const n = 7;
    const r = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
    const a = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => r.reduce((s, row) => s + row[i] * row[j], 0) + (i === j ? 0.5 : 0)),
    );
    const inv = spdInverse(Float64Array.from(a.flat()), n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        expect(a[i].reduce((s, x, k) => s + x * inv[k * n + j], 0)).toBeCloseTo(i === j ? 1 : 0, 10);
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => spdInverse(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });
});

describe('EASE', () => {
  it('matches the closed form worked by hand on two items', () => {
    // XᵀX = [[2,1],[1,2]]; with λ = 1, P = [[3,-1],[-1,3]]/8, so B01 = B10 = (1/8)/(3/8) = 1/3.
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a'], u3: ['b'] }));
    const ease = Ease.fit(m, 1);
    const scores = ease.scores(indicesOf(m, ['a']));
    expect(scores[m.itemIndex.get('a')!]).toBe(0);
    expect(scores[m.itemIndex.get('b')!]).toBeCloseTo(1 / 3, 12);
  });

  it('equals column-wise ridge regression with a zero diagonal on a random matrix', () => {
    const rng = createRng(11);
    const rows: Record<string, string[]> = {};
    for (let u = 0; u < 30; u++) rows[`u${u}`] = ['a', 'b', 'c', 'd', 'e'].filter(() => rng.next() < 0.4).concat('f');
    const m = buildInteractions(pairs(rows));
    const n = m.items.length;
    const x = m.users.map((_, u) =>
      Array.from({ length: n }, (_, i) => (rows[m.users[u]].includes(m.items[i]) ? 1 : 0)),
    );
    const lambda = 2.5;
    const ease = Ease.fit(m, lambda);
    // Column j of B: argmin ||X_j − X_{−j}·β||² + λ||β||², i.e. (X_{−j}ᵀX_{−j} + λI)·β = X_{−j}ᵀX_j.
    for (let j = 0; j < n; j++) {
      const others = [...Array(n).keys()].filter((i) => i !== j);
      const gram = others.map((i) =>
        others.map((k) => x.reduce((s, row) => s + row[i] * row[k], 0) + (i === k ? lambda : 0)),
      );
      const beta = solve(
        gram,
        others.map((i) => x.reduce((s, row) => s + row[i] * row[j], 0)),
      );
      // B[i][j] is the score item i's presence adds to item j.
      others.forEach((i, p) => expect(ease.scores([i])[j]).toBeCloseTo(beta[p], 10));
    }
  });

  it('refuses a catalog above the dense limit, saying why', () => {
    const m = buildInteractions(Array.from({ length: EASE_MAX_ITEMS + 1 }, (_, i) => ['u', `i${i}`] as const));
    expect(() => Ease.fit(m, 100)).toThrow(EaseRefused);
    expect(() => Ease.fit(m, 100)).toThrow(/20,001 items, above the dense limit of 20,000/);
  });

  it('picks λ on the last share of each user’s training items', () => {
    const rng = createRng(5);
    const train = new Map<string, string[]>();
    // Two taste groups: items of the user's own group only.
    for (let u = 0; u < 40; u++)
      train.set(`u${u}`, rng.shuffle(Array.from({ length: 10 }, (_, i) => `g${u % 2}-${i}`)).slice(0, 7));
    const choice = pickEaseLambda(train, 0.2, 5, [1, 1000]);
    expect(choice.validationUsers).toBe(40);
    expect(Object.keys(choice.recallByLambda)).toEqual(['1', '1000']);
    for (const r of Object.values(choice.recallByLambda)) expect(r).toBeGreaterThan(0.5);
    expect(choice.recallByLambda[String(choice.lambda)]).toBe(Math.max(...Object.values(choice.recallByLambda)));
  });
});

describe('item-kNN (cosine)', () => {
  it('sums the cosine similarities of the user’s items', () => {
    // a: {u1, u2}, b: {u1, u2}, c: {u2, u3}: cos(a,b) = 1, cos(a,c) = cos(b,c) = 1/2.
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a', 'b', 'c'], u3: ['c'] }));
    const knn = new ItemKnn(m);
    const score = (user: string[], item: string) => knn.scores(indicesOf(m, user))[m.itemIndex.get(item)!];
    expect(score(['a'], 'b')).toBeCloseTo(1, 12);
    expect(score(['a'], 'c')).toBeCloseTo(0.5, 12);
    expect(score(['a', 'b'], 'c')).toBeCloseTo(1, 12);
    expect(unseenTop(knn.scores(indicesOf(m, ['c'])), 5, indicesOf(m, ['c'])).map((i) => m.items[i])).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('popularity', () => {
  it('counts users per item and leaves the user’s own items out', () => {
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a', 'c'], u3: ['a', 'b', 'a'] }));
    const scores = popularityScores(m);
    expect(scores[m.itemIndex.get('a')!]).toBe(3);
    expect(unseenTop(scores, 2, indicesOf(m, ['a'])).map((i) => m.items[i])).toEqual(['b', 'c']);
  });
});

// EASE (its dense solve in LAPACK), checked against the closed form, against ridge regression solved
// another way, and against the in-JavaScript fit it replaced. (No libs/data here: libs/data's batch
// jobs import this folder.)
import { describe, expect, it } from 'vitest';
import { easeWeightsInJs, spdInverse } from '../../test/fixtures/ease-in-js.js';
import { Ease, EASE_MAX_ITEMS, EaseRefused } from './ease.js';
import { buildInteractions, indicesOf } from './interactions.js';

const pairs = (rows: Record<string, string[]>) =>
  Object.entries(rows).flatMap(([u, items]) => items.map((i) => [u, i] as const));

/** A repeatable number in [0, 1) for each integer (a hash, not a generator: enough for test matrices). */
const noise = (k: number) => {
  const x = Math.sin(k * 12.9898 + 78.233) * 43758.5453;
  return x - Math.floor(x);
};

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

describe('spdInverse (the in-JavaScript reference)', () => {
  it('inverts a random SPD matrix: A·A⁻¹ = I', () => {
    const n = 7;
    const r = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => noise(i * n + j) - 0.5));
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
  it('matches the closed form worked by hand on two items', async () => {
    // XᵀX = [[2,1],[1,2]]; with λ = 1, P = [[3,-1],[-1,3]]/8, so B01 = B10 = (1/8)/(3/8) = 1/3.
    const m = buildInteractions(pairs({ u1: ['a', 'b'], u2: ['a'], u3: ['b'] }));
    const ease = await Ease.fit(m, 1);
    const scores = ease.scores(indicesOf(m, ['a']));
    expect(scores[m.itemIndex.get('a')!]).toBe(0);
    expect(scores[m.itemIndex.get('b')!]).toBeCloseTo(1 / 3, 12);
  });

  it('equals column-wise ridge regression with a zero diagonal on a random matrix', async () => {
    const rows: Record<string, string[]> = {};
    for (let u = 0; u < 30; u++)
      rows[`u${u}`] = ['a', 'b', 'c', 'd', 'e'].filter((_, i) => noise(u * 5 + i) < 0.4).concat('f');
    const m = buildInteractions(pairs(rows));
    const n = m.items.length;
    const x = m.users.map((_, u) =>
      Array.from({ length: n }, (_, i) => (rows[m.users[u]].includes(m.items[i]) ? 1 : 0)),
    );
    const lambda = 2.5;
    const ease = await Ease.fit(m, lambda);
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

  it('refuses a catalog above the dense limit, saying why', async () => {
    const m = buildInteractions(Array.from({ length: EASE_MAX_ITEMS + 1 }, (_, i) => ['u', `i${i}`] as const));
    await expect(Ease.fit(m, 100)).rejects.toThrow(EaseRefused);
    await expect(Ease.fit(m, 100)).rejects.toThrow(/20,001 items, above the dense limit of 20,000/);
  });

  it('prunes a row of B to its largest positive weights, best first', async () => {
    // a and b go together, c goes with neither: B[a][b] > 0, B[a][c] < 0.
    const m = buildInteractions(
      pairs({ u1: ['a', 'b'], u2: ['a', 'b'], u3: ['a', 'b'], u4: ['c'], u5: ['c', 'd'], u6: ['a', 'd'] }),
    );
    const ease = await Ease.fit(m, 1);
    const a = m.itemIndex.get('a')!;
    const row = ease.scores([a]);
    const all = ease.neighbors(a, 10);
    expect(all.map((n) => m.items[n.item])).toEqual(['b', 'd']);
    expect(all.every((n) => n.weight > 0 && n.weight === row[n.item])).toBe(true);
    expect(row[m.itemIndex.get('c')!]).toBeLessThan(0);
    expect(ease.neighbors(a, 1).map((n) => m.items[n.item])).toEqual(['b']);
  });

  it('gives the weights of the in-JavaScript fit it replaced, on one thread or two', async () => {
    // 300 users × 120 items, a few tastes: B has positive and negative weights of every size.
    const rows: Record<string, string[]> = {};
    for (let u = 0; u < 300; u++)
      rows[`u${u}`] = Array.from({ length: 120 }, (_, i) => `i${i}`).filter(
        (_, i) => noise(u * 120 + i) < (i % 4 === u % 4 ? 0.3 : 0.05),
      );
    const m = buildInteractions(pairs(rows));
    const n = m.items.length;
    for (const threads of [1, 2]) {
      const ease = await Ease.fit(m, 50, { threads });
      const reference = easeWeightsInJs(m, 50);
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const row = ease.scores([i]);
        for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(row[j] - reference[i * n + j]));
      }
      expect(worst).toBeLessThan(1e-12);
      expect(ease.neighbors(0, 10).map((x) => x.item)).toEqual(
        [...reference.subarray(0, n).keys()]
          .filter((j) => reference[j] > 0)
          .sort((a, b) => reference[b] - reference[a] || a - b)
          .slice(0, 10),
      );
    }
  });

  it('fits an empty matrix without a solve', async () => {
    const ease = await Ease.fit(buildInteractions([]), 10);
    expect(ease.items).toBe(0);
  });
});

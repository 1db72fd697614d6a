import { describe, expect, it } from 'vitest';
import { createRng } from '../data/random.js';
import { bipartiteFromRows } from './bipartite.js';
import { PixieWalker, type PixieOptions } from './pixie.js';

const options = (overrides: Partial<PixieOptions> = {}): PixieOptions => ({
  totalSteps: 20_000,
  restartProbability: 0.5,
  earlyStopPins: Number.POSITIVE_INFINITY,
  earlyStopVisits: 4,
  rng: createRng(1),
  ...overrides,
});

describe('PixieWalker', () => {
  // Two clusters that share no board: a walk never crosses between them.
  const clusters = new PixieWalker(
    bipartiteFromRows([
      { left: 'a1', right: ['x1', 'x2', 'x3'] },
      { left: 'a2', right: ['x2', 'x3', 'x4'] },
      { left: 'a3', right: ['x4', 'x5'] },
      { left: 'b1', right: ['y1', 'y2', 'y3'] },
      { left: 'b2', right: ['y3', 'y4'] },
    ]),
  );
  const pin = (id: string) => clusters.graph.right.get(id)!;

  it('only reaches pins connected to its query pins, nearer ones more', () => {
    const { top } = clusters.run([{ node: pin('x1'), weight: 1 }], options(), 100);
    const ids = top.map((t) => clusters.graph.right.name(t.node));
    expect(ids.every((id) => id.startsWith('x'))).toBe(true);
    const score = new Map(top.map((t) => [clusters.graph.right.name(t.node), t.value]));
    // x2 and x3 share a board with x1; x5 is three hops away.
    expect(score.get('x2')!).toBeGreaterThan(score.get('x5')!);
    expect(score.get('x3')!).toBeGreaterThan(score.get('x4')!);
  });

  it('restarts: with α = 1 every step starts at the query pin, so it never goes beyond one board', () => {
    const { top } = clusters.run([{ node: pin('x1'), weight: 1 }], options({ restartProbability: 1 }), 100);
    expect(top.map((t) => clusters.graph.right.name(t.node)).sort()).toEqual(['x1', 'x2', 'x3']);
    // With α small, walks wander: x5 (three boards away) gets visited.
    const wander = clusters.run([{ node: pin('x1'), weight: 1 }], options({ restartProbability: 0.05 }), 100);
    expect(wander.top.map((t) => clusters.graph.right.name(t.node))).toContain('x5');
  });

  it('is repeatable under a fixed seed', () => {
    const queries = [
      { node: pin('x1'), weight: 1 },
      { node: pin('y1'), weight: 2 },
    ];
    const a = clusters.run(queries, options({ rng: createRng(42) }), 100);
    const b = clusters.run(queries, options({ rng: createRng(42) }), 100);
    expect(a).toEqual(b);
  });

  it('splits the budget by weight and degree, sub-linearly in degree, and gives pins without boards nothing', () => {
    const g = new PixieWalker(
      bipartiteFromRows([
        { left: 'b1', right: ['hub', 'p'] },
        { left: 'b2', right: ['hub', 'q'] },
        { left: 'b3', right: ['hub', 'r'] },
        { left: 'b4', right: ['hub', 'leaf'] },
      ]),
    );
    const node = (id: string) => g.graph.right.get(id)!;
    const [hub, leaf] = g.stepBudgets(
      [
        { node: node('hub'), weight: 1 },
        { node: node('leaf'), weight: 1 },
      ],
      10_000,
    );
    expect(hub + leaf).toBe(10_000);
    expect(hub).toBeGreaterThan(leaf);
    expect(hub / leaf).toBeLessThan(4); // degree 4 vs 1: s = 4·(4 − ln 4) vs 1·4, fewer than 4× the steps
    const [heavy, light] = g.stepBudgets(
      [
        { node: node('p'), weight: 3 },
        { node: node('q'), weight: 1 },
      ],
      8_000,
    );
    expect([heavy, light]).toEqual([6_000, 2_000]);
    expect(
      g.stepBudgets(
        [
          { node: node('p'), weight: 1 },
          { node: node('q'), weight: 0 },
        ],
        100,
      ),
    ).toEqual([100, 0]);
    expect(g.run([{ node: node('p'), weight: 1 }], options({ totalSteps: 500 }), 10).totalSteps).toBe(500);
  });

  it('boosts pins reached from several query pins over pins reached often from one: (Σ √V_q)², not Σ V_q', () => {
    // From q1 (4 boards) one step lands on r with p = 3/8 and on p with p = 1/8; from q2 (one board
    // of 10 pins) on p with p = 1/10. With equal budgets of 10,000 steps: V1[r] ≈ 3750,
    // V1[p] ≈ 1250, V2[p] ≈ 1000. Summed, r wins (3750 > 2250); boosted, p wins (≈ 4490 > 3750).
    const g = new PixieWalker(
      bipartiteFromRows([
        { left: 'A', right: ['q1', 'p'] },
        { left: 'C', right: ['q1', 'r'] },
        { left: 'D', right: ['q1', 'r'] },
        { left: 'E', right: ['q1', 'r'] },
        { left: 'B', right: ['q2', 'p', 'z1', 'z2', 'z3', 'z4', 'z5', 'z6', 'z7', 'z8'] },
      ]),
    );
    const node = (id: string) => g.graph.right.get(id)!;
    const c = 4; // the largest pin degree (q1)
    const queries = [
      { node: node('q1'), weight: 1 },
      { node: node('q2'), weight: (4 * (c - Math.log(4))) / (1 * c) },
    ];
    const budgets = g.stepBudgets(queries, 20_000);
    expect(Math.abs(budgets[0] - budgets[1])).toBeLessThanOrEqual(1);
    const { top } = g.run(queries, options({ restartProbability: 1 }), 3, (v) => v === node('q1') || v === node('q2'));
    expect(top.map((t) => g.graph.right.name(t.node)).slice(0, 2)).toEqual(['p', 'r']);
    expect(top[0].value).toBeGreaterThan(4_000);
    expect(top[1].value).toBeGreaterThan(3_400);
    expect(top[1].value).toBeLessThan(4_100);
  });

  it('stops a query early once n_p pins have n_v visits', () => {
    const queries = [{ node: pin('x1'), weight: 1 }];
    const full = clusters.run(queries, options({ totalSteps: 10_000 }), 10);
    expect(full.queries[0]).toMatchObject({ budget: 10_000, steps: 10_000, stoppedEarly: false });
    const early = clusters.run(queries, options({ totalSteps: 10_000, earlyStopPins: 3, earlyStopVisits: 20 }), 10);
    expect(early.queries[0].stoppedEarly).toBe(true);
    expect(early.totalSteps).toBeLessThan(500);
    expect(early.top.filter((t) => t.value >= 20).length).toBeGreaterThanOrEqual(3);
  });

  it('answers nothing on an empty graph', () => {
    const empty = new PixieWalker(bipartiteFromRows([]));
    expect(empty.run([], options(), 10)).toEqual({ top: [], queries: [], totalSteps: 0 });
  });
});

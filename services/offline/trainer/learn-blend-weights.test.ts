import { describe, expect, it } from 'vitest';
import { BlendPolicy } from '../../../libs/blend/policy.js';
import type { BlendCandidate } from '../../../libs/blend/types.js';
import type { ReplayedAnswers } from './candidate-replay.js';
import { learnBlendWeights, preScorePage, scoringUser } from './learn-blend-weights.js';

const GENERATORS = ['good', 'noise', 'other'];
const rules = { maxPerCreator: 3, maxSourceShare: 0.6 };

/** A seeded stream of numbers in [0, 1). */
function random(seed: number) {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * Users whose held-out items `good` ranks high and `noise` never proposes; `noise` ranks other
 * items higher than `good` does, so with equal weights it pushes held-out items off the page.
 */
function replay(users: number): ReplayedAnswers {
  const rnd = random(3);
  const out: ReplayedAnswers['users'] = [];
  for (let u = 0; u < users; u++) {
    const byItem = new Map<string, BlendCandidate>();
    const propose = (generator: string, items: string[]) =>
      items.forEach((itemId, rank) => {
        const c = byItem.get(itemId) ?? byItem.set(itemId, { itemId, proposals: [], preScore: 0 }).get(itemId)!;
        c.proposals.push({ generator, rank, score: 0, reason: '' });
      });
    const heldOut = Array.from({ length: 5 }, (_, i) => `u${u}-held${i}`);
    const filler = Array.from({ length: 60 }, (_, i) => `i${Math.floor(rnd() * 300)}-${i}`);
    propose('good', [...filler.slice(0, 10), ...heldOut, ...filler.slice(10, 30)]);
    propose('noise', filler.slice(20, 60));
    propose(
      'other',
      filler.filter(() => rnd() < 0.3),
    );
    out.push({ user: `u${u}`, historyEndMs: 0, eligible: [...byItem.values()], heldOut: new Set(heldOut) });
  }
  return { users: out, timeMs: 0, items: new Map(), catalog: new Map(), heldOutFraction: 0.2, generators: GENERATORS };
}

describe('learnBlendWeights', () => {
  it('scores pages exactly as the blend policy composes them, for any weights', () => {
    const r = replay(5);
    const rnd = random(11);
    for (let trial = 0; trial < 20; trial++) {
      const weights = new Map(GENERATORS.map((g) => [g, [0, 0.25, 1, 2][Math.floor(rnd() * 4)]]));
      const policy = new BlendPolicy(weights, 60, rules);
      for (const u of r.users) {
        const fast = preScorePage(
          scoringUser(u, GENERATORS, 60),
          Float64Array.from(GENERATORS, (g) => weights.get(g)!),
          policy,
          r,
          20,
        );
        expect(fast).toEqual(policy.unrankedPage(u.eligible, 20, r.catalog).map((c) => c.itemId));
      }
    }
  });

  it('turns off a generator that crowds the held-out items off the page, and reports both halves', () => {
    const policy = new BlendPolicy(new Map(GENERATORS.map((g) => [g, 1])), 60, rules);
    const learned = learnBlendWeights(replay(40), policy, 20);
    expect(learned.weights.noise).toBe(0);
    expect(learned.weights.good).toBeGreaterThan(0);
    expect(learned.users.tune + learned.users.holdout).toBe(40);
    expect(learned.users.tune).toBeGreaterThan(0);
    expect(learned.users.holdout).toBeGreaterThan(0);
    expect(learned.after.tune).toBeGreaterThan(learned.before.tune);
    expect(learned.after.holdout).toBeGreaterThan(learned.before.holdout);
  });
});

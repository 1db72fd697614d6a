import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceState } from '../../generated/feedloom/v1/blender.js';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { parseMeshConfig } from '../config/mesh.js';
import { policyFromConfig, VariantPolicies } from './policy.js';
import { bucketOf } from './variants.js';
import { LEARNED_WEIGHTS_FILE, writeLearnedWeights } from './learned-weights.js';
import type { ItemCatalog, SourceAnswer } from './types.js';

const mesh = (blender: Record<string, number>) =>
  parseMeshConfig({
    world: { preset: 'tiny', seed: 1, dir: 'world' },
    services: { events: { port: 1 }, blender: { port: 2, ...blender } },
    generators: [
      { name: 'a', port: 3, weight: 2 },
      { name: 'b', port: 4 },
    ],
  });

const answer = (generator: string, ids: string[]): SourceAnswer => ({
  status: {
    generator,
    state: SourceState.SOURCE_STATE_OK,
    candidates: ids.length,
    latencyMs: 1,
    error: '',
    snapshotVersion: '',
    modelVersion: '',
  },
  candidates: ids.map((itemId) => ({ itemId, score: 1, reason: '' })),
});

describe('policyFromConfig', () => {
  it("reads the generators' weights and the blender's rrfK and page rules", () => {
    const policy = policyFromConfig(mesh({ rrfK: 10, maxPerCreator: 2, maxSourceShare: 0.5 }));
    expect(Object.fromEntries(policy.weights)).toEqual({ a: 2, b: 1 });
    expect(policy.rrfK).toBe(10);
    expect(policy.pageRules).toEqual({ maxPerCreator: 2, maxSourceShare: 0.5 });
    expect(policyFromConfig(mesh({})).pageRules).toEqual({ maxPerCreator: 3, maxSourceShare: 0.6 });
  });

  it("takes the world's learned weights for the generators they name, unless the config turns them off", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'learned-weights-'));
    try {
      const inWorld = (blender: Record<string, unknown>) => {
        const m = mesh(blender as Record<string, number>);
        m.world.dir = dir;
        return m;
      };
      expect(Object.fromEntries(policyFromConfig(inWorld({})).weights)).toEqual({ a: 2, b: 1 });
      await writeLearnedWeights(dir, {
        weights: { b: 0 },
        objective: 'test',
        before: { tune: 0, holdout: 0 },
        after: { tune: 0, holdout: 0 },
        users: { tune: 1, holdout: 1 },
        learnedAt: '',
      });
      expect(Object.fromEntries(policyFromConfig(inWorld({})).weights)).toEqual({ a: 2, b: 0 });
      expect(Object.fromEntries(policyFromConfig(inWorld({}), { learned: false }).weights)).toEqual({ a: 2, b: 1 });
      expect(Object.fromEntries(policyFromConfig(inWorld({ learnedWeights: false })).weights)).toEqual({ a: 2, b: 1 });
      writeFileSync(join(dir, LEARNED_WEIGHTS_FILE), JSON.stringify({ weights: { b: -1 } }));
      expect(() => policyFromConfig(inWorld({}))).toThrow(/finite numbers ≥ 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pages the eligible candidates under its own rules and weights; other weights leave it as it was', () => {
    const user = UserContext.fromPartial({ userId: 'u', seenItems: ['seen'] });
    const catalog: ItemCatalog = new Map([
      ['a1', { creatorId: 'c1', topic: null }],
      ['a2', { creatorId: 'c1', topic: null }],
      ['b1', { creatorId: 'c2', topic: null }],
      ['seen', { creatorId: 'c3', topic: null }],
    ]);
    const policy = policyFromConfig(mesh({ maxPerCreator: 1, maxSourceShare: 1 }));
    const eligible = policy.eligible([answer('a', ['a1', 'a2', 'seen']), answer('b', ['b1', 'a2'])], user, catalog);
    expect(eligible.map((c) => c.itemId)).toEqual(['a1', 'a2', 'b1']);
    // Pre-score (k 60): a2 2/62 + 1/62 > a1 2/61 > b1 1/61; one item of creator c1 per page, so a1 waits.
    expect(policy.unrankedPage(eligible, 2, catalog).map((c) => c.itemId)).toEqual(['a2', 'b1']);
    // Without a's weight: b1 1/61 > a2 1/62 > a1 0.
    const bOnly = policy.withWeights(new Map([['a', 0]]));
    expect(bOnly.unrankedPage(eligible, 2, catalog).map((c) => c.itemId)).toEqual(['b1', 'a2']);
    expect(bOnly.pageRules).toBe(policy.pageRules);
    expect(policy.weights.get('a')).toBe(2);
  });

  describe('with experiments', () => {
    const experimentMesh = () =>
      parseMeshConfig({
        world: { preset: 'tiny', seed: 1, dir: 'world' },
        services: { events: { port: 1 }, blender: { port: 2, rrfK: 10 } },
        generators: [
          { name: 'a', port: 3, weight: 2 },
          { name: 'b', port: 4 },
          { name: 'c', port: 5, shadow: true, quota: 50 },
        ],
        experiments: [
          {
            name: 'only_b',
            variants: [
              { name: 'control', buckets: [{ from: 0, to: 4999 }] },
              {
                name: 'treatment',
                buckets: [{ from: 5000, to: 9999 }],
                generators: { a: { enabled: false }, c: { shadow: false, quota: 2, weight: 3 } },
                rrfK: 30,
                maxSourceShare: 1,
                ranker: { enabled: false },
              },
            ],
          },
        ],
      });

    it('leaves a control user on the config as written, and gives a treatment user its overrides', () => {
      const policies = new VariantPolicies(experimentMesh());
      const control = policies.of([{ experiment: 'only_b', variant: 'control' }]);
      expect(control.rrfK).toBe(10);
      expect(control.plan.sources.get('a')).toEqual({ enabled: true, shadow: false, quota: 200 });
      expect(control.plan.sources.get('c')).toEqual({ enabled: true, shadow: true, quota: 50 });
      expect(control.plan.ranker).toEqual({ enabled: true });
      expect(control.variantLabel).toBe('only_b:control');

      const treatment = policies.of([{ experiment: 'only_b', variant: 'treatment' }]);
      expect(treatment.rrfK).toBe(30);
      expect(treatment.pageRules).toEqual({ maxPerCreator: 3, maxSourceShare: 1 });
      expect(treatment.plan.sources.get('a')).toMatchObject({ enabled: false });
      expect(treatment.plan.sources.get('c')).toEqual({ enabled: true, shadow: false, quota: 2 });
      expect(Object.fromEntries(treatment.weights)).toEqual({ a: 2, b: 1, c: 3 });
      expect(treatment.plan.ranker).toEqual({ enabled: false });
      // Made once per set of variants.
      expect(policies.of([{ experiment: 'only_b', variant: 'treatment' }])).toBe(treatment);
      expect(() => policies.of([{ experiment: 'only_b', variant: 'nope' }])).toThrow(/no variant "nope"/);
    });

    it("resolves a user's variant from its id", () => {
      const policies = new VariantPolicies(experimentMesh());
      for (const u of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) {
        const expected = bucketOf(u, 'only_b') < 5000 ? 'control' : 'treatment';
        expect(policies.forUser(u).plan.variants).toEqual([{ experiment: 'only_b', variant: expected }]);
      }
    });

    it("replays recorded answers as the variant's fan-out has them: served generators only, at its quotas", () => {
      const answers = [answer('a', ['a1']), answer('b', ['b1', 'b2']), answer('c', ['c1', 'c2', 'c3'])];
      const policies = new VariantPolicies(experimentMesh());
      const served = (variant: string) =>
        policies
          .of([{ experiment: 'only_b', variant }])
          .served(answers)
          .map((a) => `${a.status.generator}:${a.candidates.map((c) => c.itemId).join('+')}`);
      expect(served('control')).toEqual(['a:a1', 'b:b1+b2']);
      expect(served('treatment')).toEqual(['b:b1+b2', 'c:c1+c2']);
      // Outside every experiment (or without a plan): all of them.
      expect(policyFromConfig(mesh({})).served(answers)).toHaveLength(3);
    });
  });
});

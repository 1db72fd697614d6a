import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceState } from '../../generated/feedloom/v1/blender.js';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { parseMeshConfig } from '../config/mesh.js';
import { policyFromConfig } from './policy.js';
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
});

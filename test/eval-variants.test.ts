// `feedloom eval --variants` for real on a tiny simulated world: the generators served over gRPC,
// their answers replayed through the config as written and each experiment variant's policy, with
// intervals over users. A variant equal to the config scores the same on every user; one that
// serves a single generator scores that generator's page.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { runEval, type EvalReport } from '../services/offline/eval/run-eval.js';
import { formatVariantReport, type VariantEvalRow } from '../services/offline/eval/variant-eval.js';
import { testMeshConfig } from './fixtures/mesh.js';

const tmp = mkdtempSync(join(tmpdir(), 'eval-variants-'));
const worldDir = join(tmp, 'world');
const ks = [10, 50];
const SERVED = ['popular', 'item_cooccurrence', 'followed_creators', 'fresh', 'trending'];
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('eval --variants', () => {
  let report: EvalReport;
  const row = (name: string): VariantEvalRow => report.variants!.rows.find((r) => r.name === name)!;

  beforeAll(async () => {
    await simulateWorld({ preset: 'tiny', seed: 5, dir: worldDir, log: () => {} });
    const { mesh } = testMeshConfig(worldDir, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) => SERVED.includes(g.name));
      delete raw.ann;
      delete raw.services.viewer;
      delete raw.services.ranker;
      const offExcept = (keep: string) =>
        Object.fromEntries(SERVED.filter((g) => g !== keep).map((g) => [g, { enabled: false }]));
      raw.experiments = [
        {
          name: 'popular_alone',
          variants: [
            { name: 'control', buckets: [{ from: 0, to: 4_999 }] },
            { name: 'treatment', buckets: [{ from: 5_000, to: 9_999 }], generators: offExcept('popular') },
          ],
        },
      ];
    });
    report = await runEval(mesh, { ks, maxUsers: 60, variants: true });
  }, 300_000);

  it('has a row for the config as written and each variant, each served by its own generators', () => {
    const v = report.variants!;
    expect(v.users).toBe(report.users);
    expect(v.rows.map((r) => r.name)).toEqual([
      'config as written',
      'popular_alone:control',
      'popular_alone:treatment',
    ]);
    expect([...row('config as written').served].sort()).toEqual([...SERVED].sort());
    expect(row('popular_alone:treatment').served).toEqual(['popular']);
    const shares = v.rows.slice(1).map((r) => r.bucketShare!);
    expect(shares[0] + shares[1]).toBeCloseTo(1);
    for (const s of shares) expect(s).toBeGreaterThan(0.2);
  });

  it('gives intervals around each value; the control matches the config on every user', () => {
    for (const r of report.variants!.rows)
      for (const i of [...Object.values(r.recall), r.coverage, ...Object.values(r.recallDelta ?? {})]) {
        expect(i.lo, r.name).toBeLessThanOrEqual(i.value + 1e-12);
        expect(i.hi, r.name).toBeGreaterThanOrEqual(i.value - 1e-12);
      }
    const config = row('config as written');
    const control = row('popular_alone:control');
    expect(control.recall).toEqual(config.recall);
    for (const k of ks) expect(control.recallDelta![`@${k}`]).toEqual({ value: 0, lo: 0, hi: 0 });
    expect(config.recall['@50'].value).toBeGreaterThan(0);
    expect(config.recall['@50'].hi).toBeGreaterThan(config.recall['@50'].lo);
  });

  it('scores a one-generator variant by that generator alone: the difference to the config is per user', () => {
    const config = row('config as written');
    const alone = row('popular_alone:treatment');
    // One generator's page covers less of the catalog than five generators' pages.
    expect(alone.coverage.value).toBeLessThan(config.coverage.value);
    for (const k of ks) {
      const delta = alone.recallDelta![`@${k}`];
      expect(delta.value).toBeCloseTo(alone.recall[`@${k}`].value - config.recall[`@${k}`].value, 10);
    }
    const table = formatVariantReport(report.variants!);
    expect(table).toContain(`over the same ${report.users} test users`);
    expect(table).toMatch(/\| popular_alone:treatment +\| +\d+\.\d% \| .*\| popular +\|/);
  });
});

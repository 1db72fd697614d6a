// The honest oracle in the simulated-world eval: every row's true@K ÷oracle (expected clicks plus
// saves if its first K were shown, by the simulator's own model, over the oracle's) is at most 1.
// The eval runs for real on a tiny world: snapshots as of the last day, the generators served over
// gRPC, the blend replayed (no ANN: the learned generators that need it are left out).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oracleTopK, simulateWorld } from '../libs/data/simulator/index.js';
import { runEval, type EvalReport } from '../services/offline/eval/run-eval.js';
import { trueVsOracle } from '../services/offline/eval/true-vs-oracle.js';
import { testMeshConfig } from './fixtures/mesh.js';

const tmp = mkdtempSync(join(tmpdir(), 'eval-oracle-'));
const worldDir = join(tmp, 'world');
const ks = [10, 50];
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the honest oracle', () => {
  let report: EvalReport;
  beforeAll(async () => {
    await simulateWorld({ preset: 'tiny', seed: 5, dir: worldDir, log: () => {} });
    const { mesh } = testMeshConfig(worldDir, (raw) => {
      raw.generators = raw.generators.filter(
        (g: { name: string }) => !['two_tower', 'embedding_i2i', 'multi_interest'].includes(g.name),
      );
      delete raw.ann;
      delete raw.services.viewer;
      delete raw.services.ranker;
    });
    report = await runEval(mesh, { ks, maxUsers: 60 });
  }, 120_000);

  it('no row of the eval beats the oracle on true@K', () => {
    expect(report.oracle?.trueAtK?.['@10']).toBeGreaterThan(0);
    expect(report.oracle!.trueAtK!['@50']).toBeGreaterThan(report.oracle!.trueAtK!['@10']);
    const rows = [...report.generators, report.blend, report.servedBlend!];
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows)
      for (const k of ks) {
        const ratio = row.trueVsOracle?.[`@${k}`];
        expect(ratio, `${row.name} @${k}`).toBeGreaterThanOrEqual(0);
        expect(ratio, `${row.name} @${k}`).toBeLessThanOrEqual(1 + 1e-12);
      }
    // Not a table of zeros: the blend earns a real share of what the oracle would.
    expect(report.blend.trueVsOracle!['@50']).toBeGreaterThan(0.1);
  });

  it('a list of what the user already knows, or one item repeated, earns nothing more', async () => {
    const users = ['u1', 'u2', 'u3'];
    const dayIndex = 7;
    const best = await oracleTopK(worldDir, users, dayIndex, 50);
    // Pretend each user knew their five best items: the unfiltered top 50 then falls short.
    const known = new Map(users.map((u) => [u, new Set(best.get(u)!.slice(0, 5))]));
    const { ratios } = await trueVsOracle({
      worldDir,
      dayIndex,
      users,
      ks,
      known,
      lists: new Map([
        ['unfiltered', (u: string) => best.get(u)!],
        ['known only', (u: string) => [...known.get(u)!]],
        ['best repeated', (u: string) => Array<string>(50).fill(best.get(u)![5])],
        ['not in the world', () => ['i999999', 'x', 'i05']],
      ]),
    });
    expect(ratios.get('unfiltered')!['@50']).toBeLessThan(1);
    expect(ratios.get('unfiltered')!['@50']).toBeGreaterThan(0.8);
    expect(ratios.get('known only')).toEqual({ '@10': 0, '@50': 0 });
    expect(ratios.get('best repeated')!['@10']).toBeLessThan(0.5);
    expect(ratios.get('not in the world')).toEqual({ '@10': 0, '@50': 0 });
  });
});

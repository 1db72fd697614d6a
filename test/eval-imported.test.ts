// `feedloom eval --world DIR` on an imported ratings log: the per-user split is the default, the
// mesh is prepared and served on each user's first 80% (real trainers), and the table holds every
// generator, the served Blend at pages of 20 and 100, and the three classical baselines.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInteractions } from '../libs/data/importer.js';
import { UDATA_SMALL, writeUData } from '../libs/data/udata-fixture.js';
import { readWorldManifest } from '../libs/data/world.js';
import type { TwoTowerManifest } from '../libs/features/two-tower.js';
import { ModelRegistry } from '../libs/registry/index.js';
import type { SplitEvalReport } from '../services/offline/eval/run-split-eval.js';
import { buildSplitWorld } from '../libs/eval/split-world.js';
import { worldRows } from './fixtures/events.js';

const tmp = mkdtempSync(join(tmpdir(), 'eval-imported-'));
const worldDir = join(tmp, 'world');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every file of the world outside eval/, with a hash of its bytes. */
function worldFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (relative(dir, path) === 'eval') continue;
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash('sha1').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('eval on an imported world', () => {
  beforeAll(async () => {
    const input = join(tmp, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
  }, 60_000);

  it('splits each user at their last 20%: held-out items are absent from the training world', async () => {
    const split = await buildSplitWorld(worldDir, { fraction: 0.2 }, () => {});
    const source = await worldRows<{ user_id: string; n: number }>(
      worldDir,
      `SELECT user_id, count(DISTINCT item_id) AS n FROM events WHERE action IN ('click', 'save') GROUP BY user_id`,
    );
    for (const { user_id, n } of source) {
      expect(split.heldOut.get(user_id)?.size, user_id).toBe(Math.max(1, Math.round(0.2 * n)));
      expect(split.train.get(user_id)!.length + split.heldOut.get(user_id)!.size).toBe(n);
    }
    const kept = await worldRows<{ user_id: string; item_id: string }>(
      split.dir,
      `SELECT DISTINCT user_id, item_id FROM events`,
    );
    const leaked = kept.filter((e) => split.heldOut.get(e.user_id)?.has(e.item_id));
    expect(leaked).toEqual([]);
    expect(kept.length).toBe([...split.train.values()].reduce((s, items) => s + items.length, 0));
    const manifest = await readWorldManifest(split.dir);
    expect(manifest.source).toBe('import');
    expect(manifest.counts.items).toBe(split.catalogItems);
    // Built once, then reused.
    expect((await buildSplitWorld(worldDir, { fraction: 0.2 }, () => {})).reused).toBe(true);
  }, 60_000);

  it('prints every generator, the Blend at 20 and 100, popularity, item-kNN and EASE, and each variant', async () => {
    const before = worldFiles(worldDir);
    // The shipped config with one experiment: its treatment serves popular alone.
    const config = JSON.parse(readFileSync('config/mesh.json', 'utf8'));
    config.experiments = [
      {
        name: 'popular_alone',
        variants: [
          { name: 'control', buckets: [{ from: 0, to: 4_999 }] },
          {
            name: 'treatment',
            buckets: [{ from: 5_000, to: 9_999 }],
            generators: Object.fromEntries(
              config.generators
                .filter((g: { name: string }) => g.name !== 'popular')
                .map((g: { name: string }) => [g.name, { enabled: false }]),
            ),
          },
        ],
      },
    ];
    const configPath = join(tmp, 'mesh.json');
    writeFileSync(configPath, JSON.stringify(config));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bin/feedloom.js', 'eval', '--world', worldDir, '--json', '--seed', '3', '--variants', '--config', configPath],
      { timeout: 900_000, maxBuffer: 64 << 20 },
    );
    const report = JSON.parse(stdout) as SplitEvalReport;
    expect(report.meshError).toBeUndefined();
    expect(report.split).toBe('user-last:0.2');
    expect(report.ks).toEqual([20, 100]);
    expect(report.users).toBe(200);
    const rows = [...report.generators, ...report.blends, ...report.baselines];
    for (const row of rows) {
      for (const r of Object.values(row.recall)) {
        expect(r, row.name).toBeGreaterThanOrEqual(0);
        expect(r, row.name).toBeLessThanOrEqual(1);
      }
      expect(row.coverage).toBeGreaterThanOrEqual(0);
      expect(row.coverage).toBeLessThanOrEqual(1);
    }
    // two_tower with the configured user tower, and beside it the other one (served as its own model).
    const listed = ['popular', 'item_cooccurrence', 'mf', 'two_tower', 'two_tower (sequence)'];
    expect(report.generators.map((g) => g.name)).toEqual(expect.arrayContaining(listed));
    for (const g of listed) expect(report.generators.find((x) => x.name === g)!.recall['@100'], g).toBeGreaterThan(0);

    const blend = Object.fromEntries(report.blends.map((b) => [b.name, b]));
    expect(Object.keys(blend)).toEqual(['Blend (page of 20)', 'Blend (page of 100)']);
    expect(Object.keys(blend['Blend (page of 20)'].recall)).toEqual(['@20']);
    expect(blend['Blend (page of 100)'].recall['@100']).toBeGreaterThan(0);
    // Ranked by the ranker prepared on the training part, every page, unless its gate rejected it
    // (it must not cost the page: recall@20 against the pre-score order); then no page is ranked.
    // No page failed either way; none holds an item of the user's own history.
    const ranker = await new ModelRegistry(join(report.trainWorld, 'models')).latest('ranker');
    expect(['published', 'serving', 'rejected']).toContain(ranker?.state);
    if (ranker?.state === 'rejected') {
      expect(ranker.history.at(-1)!.note).toMatch(/below the prescore order's recall20_click/);
      for (const b of report.blends) expect(b.note ?? '', b.name).toBe(`${report.users} page(s) not ranked`);
    } else for (const b of report.blends) expect(b.note ?? '', b.name).not.toMatch(/not ranked|failed/);
    for (const b of report.blends) expect(b.historyItems, b.name).toBe(0);
    // Where the held-out items went: shares that add up to all of them. An imported log has no
    // impressions (nothing is "seen") and a held-out item is never in the user's training part.
    for (const b of report.blends) {
      const fates = b.heldOutFates!;
      expect(
        Object.values(fates).reduce((s, x) => s + x, 0),
        b.name,
      ).toBeCloseTo(1, 6);
      for (const fate of Object.keys(fates)) expect(fate, b.name).toMatch(/^(page|not_proposed|filter:\w+|page:\w+)$/);
      expect(fates['filter:already_engaged'], b.name).toBeUndefined();
      expect(fates['filter:already_seen'], b.name).toBeUndefined();
      expect(fates.page, b.name).toBeGreaterThan(0);
    }
    // The blend weights the served pages used were learned on the training part's own replay, and say how they did there.
    const learned = report.learnedWeights!;
    expect(Object.keys(learned.weights)).toEqual(expect.arrayContaining(['ease', 'mf', 'two_tower']));
    expect(learned.users.tune).toBeGreaterThan(0);
    expect(learned.users.holdout).toBeGreaterThan(0);
    expect(learned.after.tune).toBeGreaterThanOrEqual(learned.before.tune);

    const base = Object.fromEntries(report.baselines.map((b) => [b.name, b.recall]));
    expect(Object.keys(base)).toEqual(['popularity', 'item-kNN (cosine)', 'EASE']);
    expect(base.popularity['@20']).toBeGreaterThan(0);
    expect(base.EASE['@20']).toBeGreaterThanOrEqual(base.popularity['@20']);
    expect(base.EASE['@100']).toBeGreaterThanOrEqual(base.popularity['@100']);
    expect(base['item-kNN (cosine)']['@100']).toBeGreaterThan(base.popularity['@100']);
    expect(report.baselines.find((b) => b.name === 'EASE')!.note).toMatch(/λ = \d+/);
    // --seed reaches the trainers the eval runs.
    const twoTower = await new ModelRegistry(join(report.trainWorld, 'models')).latest<TwoTowerManifest>('two_tower');
    expect(twoTower?.manifest.training?.seed).toBe(3);
    expect(twoTower?.manifest.userTower).toBe('pooled');
    const sequence = await new ModelRegistry(join(report.trainWorld, 'models')).latest<TwoTowerManifest>(
      'two_tower_sequence',
    );
    expect(sequence?.manifest).toMatchObject({ userTower: 'sequence', training: { seed: 3 } });

    // --variants: the same test users replayed through the config as written and each variant's
    // policy, with the split's recall (training items left out, then cut at k).
    const variants = report.variants!;
    expect(variants.users).toBe(report.users);
    expect(variants.rows.map((r) => r.name)).toEqual([
      'config as written',
      'popular_alone:control',
      'popular_alone:treatment',
    ]);
    const [written, control, treatment] = variants.rows;
    expect(treatment.served).toEqual(['popular']);
    expect(written.served.length).toBeGreaterThan(10);
    expect(control.recall['@100'].value).toBe(written.recall['@100'].value);
    expect(control.recallDelta!['@100']).toMatchObject({ value: 0, lo: 0, hi: 0 });
    // popular's page alone is popular's list: its row in the table, within what page rules may move.
    const popular = report.generators.find((g) => g.name === 'popular')!;
    expect(Math.abs(treatment.recall['@100'].value - popular.recall['@100'])).toBeLessThan(0.02);
    expect(treatment.recall['@100'].value).toBeLessThan(written.recall['@100'].value);
    expect(treatment.recallDelta!['@100'].hi).toBeLessThan(0);
    for (const r of variants.rows) {
      const i = r.recall['@100'];
      expect(i.lo).toBeLessThanOrEqual(i.value);
      expect(i.hi).toBeGreaterThanOrEqual(i.value);
    }
    // The world itself is as it was: the eval writes only under eval/.
    expect(worldFiles(worldDir)).toEqual(before);
  }, 900_000);
});

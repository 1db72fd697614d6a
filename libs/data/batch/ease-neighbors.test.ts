// The ease_neighbors job (a computed job): its rows are EASE's own weights, refitted here from the
// raw log; above maxItems it fits the most engaged items only and says so; its settings are checked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ease } from '../../cf/ease.js';
import { buildInteractions } from '../../cf/interactions.js';
import { worldRows } from '../../../test/fixtures/events.js';
import { snapshotsOf, testWorld } from '../../../test/fixtures/world.js';
import { readSnapshot } from '../snapshots.js';
import { easeNeighbors, type EaseNeighborsRow } from './jobs/ease_neighbors.js';
import { runBatchJobs } from './run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-ease-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('batch job ease_neighbors', () => {
  let world: string;
  let rows: EaseNeighborsRow[];
  /** EASE refitted here on who clicked or saved what, among the `top` items with the most users (all by default). */
  const refit = async (top = Number.MAX_SAFE_INTEGER) => {
    const pairs = await worldRows<{ user_id: string; item_id: string }>(
      world,
      `SELECT DISTINCT user_id, item_id FROM events WHERE action IN ('click', 'save') ORDER BY user_id, item_id`,
    );
    const users = new Map<string, number>();
    for (const p of pairs) users.set(p.item_id, (users.get(p.item_id) ?? 0) + 1);
    const head = new Set(
      [...users]
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
        .slice(0, top)
        .map(([item]) => item),
    );
    const m = buildInteractions(pairs.filter((p) => head.has(p.item_id)).map((p) => [p.user_id, p.item_id] as const));
    return { m, ease: await Ease.fit(m, 500), engagedItems: users.size };
  };
  /** Every written row equals the refitted model's, on a sample of rows; every row is well formed. */
  const expectRowsOf = ({ m, ease }: Awaited<ReturnType<typeof refit>>, written: EaseNeighborsRow[]) => {
    expect(written.map((r) => r.item_id)).toEqual(written.map((r) => r.item_id).sort());
    for (const row of written.filter((_, i) => i % 25 === 0)) {
      const expected = ease.neighbors(m.itemIndex.get(row.item_id)!, 100);
      expect(row.neighbors.map((n) => n.item_id)).toEqual(expected.map((n) => m.items[n.item]));
      // Six significant digits, as written.
      expect(row.neighbors.map((n) => n.score)).toEqual(expected.map((n) => Number(n.weight.toPrecision(6))));
    }
    for (const row of written) {
      expect(row.neighbors.length).toBeLessThanOrEqual(100);
      expect(row.neighbors.every((n) => n.score > 0 && n.item_id !== row.item_id)).toBe(true);
    }
  };

  beforeAll(async () => {
    world = await testWorld();
    rows = (await readSnapshot(snapshotsOf(world), easeNeighbors)).rows;
  });

  it("holds each item's largest positive weights of EASE (λ 500) on who clicked or saved what", async () => {
    const fit = await refit();
    expect(rows.length).toBeGreaterThan(0.9 * fit.m.items.length);
    expectRowsOf(fit, rows);
  });

  it('fits the maxItems items with the most engaged users only, and says so in one line', async () => {
    const snapshotsDir = path.join(tmp, 'head');
    const [result] = await runBatchJobs({
      worldDir: world,
      snapshotsDir,
      only: ['ease_neighbors'],
      settings: { ease_neighbors: { maxItems: 50 } },
    });
    const head = (await readSnapshot(snapshotsDir, easeNeighbors)).rows;
    const fit = await refit(50);
    expect(fit.engagedItems).toBeGreaterThan(50);
    expect(fit.m.items).toHaveLength(50);
    expect(result.rows).toBe(head.length);
    expect(head.length).toBeGreaterThan(40);
    // Only the 50 have rows, and only they are neighbours.
    for (const row of head) {
      expect(fit.m.itemIndex.has(row.item_id)).toBe(true);
      expect(row.neighbors.every((n) => fit.m.itemIndex.has(n.item_id))).toBe(true);
    }
    expectRowsOf(fit, head);
    expect(result.notes).toEqual([
      `fitted on the 50 most engaged of ${fit.engagedItems.toLocaleString('en-US')} items with clicks or saves (batch.ease_neighbors.maxItems); the others have no neighbours`,
    ]);
  });

  it('refuses bad settings, naming the field, before running anything', async () => {
    const snapshotsDir = path.join(tmp, 'refused');
    await expect(
      runBatchJobs({
        worldDir: world,
        snapshotsDir,
        settings: { ease_neighbors: { lambda: 0, neighbor: 10 }, popularity: { top: 5 } },
      }),
    ).rejects.toThrow(
      /batch\.popularity: no batch job "popularity" takes settings[\s\S]*batch\.ease_neighbors\.lambda: Number must be greater than 0[\s\S]*batch\.ease_neighbors: Unrecognized key\(s\) in object: 'neighbor'/,
    );
    expect(fs.existsSync(snapshotsDir)).toBe(false);
  });
});

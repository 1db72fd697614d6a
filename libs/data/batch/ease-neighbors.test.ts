// The ease_neighbors job (a computed job): its rows are EASE's own weights, refitted here from the
// raw log; above maxItems it writes an empty snapshot and says why; its settings are checked.
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

  beforeAll(async () => {
    world = await testWorld();
    rows = (await readSnapshot(snapshotsOf(world), easeNeighbors)).rows;
  });

  it("holds each item's largest positive weights of EASE (λ 500) on who clicked or saved what", async () => {
    const pairs = await worldRows<{ user_id: string; item_id: string }>(
      world,
      `SELECT DISTINCT user_id, item_id FROM events WHERE action IN ('click', 'save') ORDER BY user_id, item_id`,
    );
    const m = buildInteractions(pairs.map((p) => [p.user_id, p.item_id] as const));
    const ease = Ease.fit(m, 500);
    expect(rows.length).toBeGreaterThan(0.9 * m.items.length);
    expect(rows.map((r) => r.item_id)).toEqual(rows.map((r) => r.item_id).sort());
    for (const row of rows.filter((_, i) => i % 25 === 0)) {
      const expected = ease.neighbors(m.itemIndex.get(row.item_id)!, 100);
      expect(row.neighbors.map((n) => n.item_id)).toEqual(expected.map((n) => m.items[n.item]));
      // Six significant digits, as written.
      expect(row.neighbors.map((n) => n.score)).toEqual(expected.map((n) => Number(n.weight.toPrecision(6))));
    }
    for (const row of rows) {
      expect(row.neighbors.length).toBeLessThanOrEqual(100);
      expect(row.neighbors.every((n) => n.score > 0 && n.item_id !== row.item_id)).toBe(true);
    }
  });

  it('writes an empty snapshot above maxItems, and says why in one line', async () => {
    const snapshotsDir = path.join(tmp, 'capped');
    const [result] = await runBatchJobs({
      worldDir: world,
      snapshotsDir,
      only: ['ease_neighbors'],
      settings: { ease_neighbors: { maxItems: 50 } },
    });
    expect(result.rows).toBe(0);
    expect((await readSnapshot(snapshotsDir, easeNeighbors)).rows).toEqual([]);
    expect(result.notes).toHaveLength(1);
    expect(result.notes![0]).toMatch(/^empty snapshot: [\d,]+ items have clicks or saves, above maxItems 50 \(/);
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

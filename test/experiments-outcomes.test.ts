// `feedloom experiments outcomes` on the tiny world's real event log: each user with impressions in
// the window is counted in exactly one variant (the blender's hash), the counts add up to the log's
// own, and each rate comes with an interval and a difference to the experiment's first variant.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bucketOf } from '../libs/blend/variants.js';
import { DAY_MS } from '../libs/data/world.js';
import type { VariantOutcomes } from '../services/ops/experiments/outcomes.js';
import { worldRows } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('experiments outcomes', () => {
  it("counts each user's impressions, clicks and saves in their variant, with intervals", async () => {
    const world = await testWorld();
    const { path } = testMeshConfig(world, (raw) => {
      raw.experiments = [
        {
          name: 'no_trending',
          variants: [
            { name: 'control', buckets: [{ from: 0, to: 4_999 }] },
            { name: 'treatment', buckets: [{ from: 5_000, to: 9_999 }], generators: { trending: { enabled: false } } },
          ],
        },
      ];
    });
    const cli = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['bin/feedloom.js', 'experiments', 'outcomes', '--config', path, '--days', '3', ...args],
        { timeout: 120_000 },
      );
    const out = JSON.parse((await cli('--json')).stdout) as VariantOutcomes;
    expect(out.toMs - out.fromMs).toBe(3 * DAY_MS);

    const users = await worldRows<{ user_id: string; impressions: number; engaged: number }>(
      world,
      `SELECT user_id, count(*) FILTER (WHERE action = 'impression') AS impressions,
              count(*) FILTER (WHERE action IN ('click', 'save')) AS engaged
         FROM events WHERE time_ms >= ${out.fromMs} AND time_ms < ${out.toMs}
        GROUP BY user_id HAVING count(*) FILTER (WHERE action = 'impression') > 0`,
    );
    expect(out.users).toBe(users.length);
    expect(users.length).toBeGreaterThan(50);
    const [control, treatment] = out.rows;
    expect(out.rows.map((r) => `${r.experiment}:${r.variant}`)).toEqual([
      'no_trending:control',
      'no_trending:treatment',
    ]);
    const inControl = users.filter((u) => bucketOf(u.user_id, 'no_trending') < 5_000);
    expect(control.users).toBe(inControl.length);
    expect(control.impressions).toBe(inControl.reduce((s, u) => s + u.impressions, 0));
    expect(control.engaged).toBe(inControl.reduce((s, u) => s + u.engaged, 0));
    expect(control.users + treatment.users).toBe(users.length);
    expect(control.impressions + treatment.impressions).toBe(users.reduce((s, u) => s + u.impressions, 0));
    for (const r of out.rows) {
      expect(r.rate.value).toBeCloseTo(r.engaged / r.impressions, 12);
      expect(r.rate.lo).toBeLessThan(r.rate.value);
      expect(r.rate.hi).toBeGreaterThan(r.rate.value);
    }
    expect(control.delta).toBeUndefined();
    expect(treatment.delta!.value).toBeCloseTo(treatment.rate.value - control.rate.value, 12);
    expect(treatment.delta!.lo).toBeLessThan(treatment.delta!.value);

    const table = (await cli()).stdout;
    expect(table).toContain(`${users.length} users with impressions`);
    expect(table).toMatch(
      new RegExp(`no_trending:control +${control.users} +${control.impressions} +${control.engaged} `),
    );
  }, 180_000);
});

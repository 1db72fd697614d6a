// Users into variants: stable, spread evenly, and split independently by each experiment.
import { describe, expect, it } from 'vitest';
import { BUCKETS } from '../config/experiments.js';
import { parseMeshConfig } from '../config/mesh.js';
import { assignVariants, bucketOf, variantLabel } from './variants.js';

const users = Array.from({ length: 20_000 }, (_, i) => `u${i}`);

describe('variants by user bucket', () => {
  it('puts a user in the same bucket every time, and users evenly over the buckets', () => {
    expect(bucketOf('u42', 'exp')).toBe(bucketOf('u42', 'exp'));
    const tenths = new Array(10).fill(0);
    const buckets = users.map((u) => bucketOf(u, 'exp'));
    expect(buckets.filter((b) => !Number.isInteger(b) || b < 0 || b >= BUCKETS)).toEqual([]);
    for (const b of buckets) tenths[Math.floor(b / (BUCKETS / 10))]++;
    for (const n of tenths) expect(Math.abs(n - users.length / 10)).toBeLessThan(users.length / 10 / 10);
  });

  it('splits users independently per experiment (the name is in the hash)', () => {
    const lowHalf = (exp: string) => new Set(users.filter((u) => bucketOf(u, exp) < BUCKETS / 2));
    const a = lowHalf('a');
    const both = [...lowHalf('b')].filter((u) => a.has(u)).length;
    expect(Math.abs(both - users.length / 4)).toBeLessThan(users.length / 40);
  });

  it("assigns each enabled experiment's variant whose buckets hold the user, none outside them", () => {
    const mesh = parseMeshConfig({
      world: { dir: 'w' },
      services: { events: { port: 1 }, blender: { port: 2 } },
      generators: [{ name: 'popular', port: 3 }],
      experiments: [
        {
          name: 'half',
          variants: [
            { name: 'control', buckets: [{ from: 0, to: 4999 }] },
            { name: 'treatment', buckets: [{ from: 5000, to: 9999 }] },
          ],
        },
        { name: 'tenth', variants: [{ name: 'on', buckets: [{ from: 0, to: 999 }] }] },
        { name: 'off', enabled: false, variants: [{ name: 'all', buckets: [{ from: 0, to: 9999 }] }] },
      ],
    });
    const counts = new Map<string, number>();
    const wrong = users.filter((u) => {
      const assigned = assignVariants(mesh.experiments, u);
      const label = variantLabel(assigned);
      counts.set(label, (counts.get(label) ?? 0) + 1);
      const half = bucketOf(u, 'half') < 5000 ? 'half:control' : 'half:treatment';
      return label !== (bucketOf(u, 'tenth') < 1000 ? `${half},tenth:on` : half);
    });
    expect(wrong).toEqual([]);
    expect([...counts.keys()].sort()).toEqual([
      'half:control',
      'half:control,tenth:on',
      'half:treatment',
      'half:treatment,tenth:on',
    ]);
    expect(variantLabel([])).toBe('none');
  });
});

// The mesh config's experiments: what a variant may override, and every mistake named by its path.
import { describe, expect, it } from 'vitest';
import { rankerVersionsOf } from './experiments.js';
import { parseMeshConfig } from './mesh.js';

const withExperiments = (experiments: unknown[], generators = [{ name: 'popular', port: 3 }]) => ({
  world: { preset: 'tiny', seed: 1, dir: 'world' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [...generators, { name: 'pixie', port: 4 }, { name: 'fresh', port: 5, shadow: true }],
  experiments,
});

const halves = (overrides: Record<string, unknown> = {}) => ({
  name: 'no_pixie',
  variants: [
    { name: 'control', buckets: [{ from: 0, to: 4999 }] },
    { name: 'treatment', buckets: [{ from: 5000, to: 9999 }], generators: { pixie: { enabled: false } }, ...overrides },
  ],
});

describe('mesh config: experiments', () => {
  it('defaults to none, and every generator to served (not shadow)', () => {
    const mesh = parseMeshConfig(withExperiments([]));
    expect(mesh.experiments).toEqual([]);
    expect(mesh.generators.map((g) => [g.name, g.shadow])).toEqual([
      ['popular', false],
      ['pixie', false],
      ['fresh', true],
    ]);
  });

  it('takes variants that override generators, rrfK, page rules and the rank stage', () => {
    const mesh = parseMeshConfig(
      withExperiments([
        halves({
          generators: { pixie: { enabled: false }, fresh: { shadow: false, quota: 50, weight: 2 } },
          rrfK: 20,
          maxPerCreator: 2,
          maxSourceShare: 0.5,
          ranker: { enabled: true, topN: 100 },
        }),
      ]),
    );
    expect(mesh.experiments[0]).toMatchObject({ name: 'no_pixie', enabled: true, description: '' });
    expect(mesh.experiments[0].variants[1]).toMatchObject({ rrfK: 20, ranker: { topN: 100 } });
  });

  it('takes a ranker version per variant, and lists those the ranker must hold', () => {
    const mesh = parseMeshConfig(withExperiments([halves({ ranker: { version: 'v0003' } })]));
    expect(rankerVersionsOf(mesh.experiments)).toEqual(['v0003']);
    expect(rankerVersionsOf([{ ...mesh.experiments[0], enabled: false }])).toEqual([]);
    expect(() => parseMeshConfig(withExperiments([halves({ ranker: { version: '3' } })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.ranker\.version: must be a model version name such as v0003/,
    );
  });

  it('names a typo, an unknown generator and a bad bucket range by their paths', () => {
    expect(() => parseMeshConfig(withExperiments([halves({ rrfk: 20 })]))).toThrow(
      /experiments\[0\]\.variants\[1\]: Unrecognized key\(s\) in object: 'rrfk'/,
    );
    expect(() => parseMeshConfig(withExperiments([halves({ generators: { pixi: { enabled: false } } })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.generators\.pixi: unknown generator "pixi": not in generators\[\]/,
    );
    expect(() => parseMeshConfig(withExperiments([halves({ generators: { pixie: { enabeld: false } } })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.generators\.pixie: Unrecognized key\(s\) in object: 'enabeld'/,
    );
    expect(() => parseMeshConfig(withExperiments([halves({ buckets: [{ from: 5000, to: 10_000 }] })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.buckets\[0\]\.to: Number must be less than or equal to 9999/,
    );
    expect(() => parseMeshConfig(withExperiments([halves({ buckets: [{ from: 9000, to: 5000 }] })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.buckets\[0\]\.to: from must not be above to/,
    );
  });

  it('refuses a bucket in two variants of one experiment, naming both', () => {
    expect(() => parseMeshConfig(withExperiments([halves({ buckets: [{ from: 4000, to: 9999 }] })]))).toThrow(
      /experiments\[0\]\.variants\[1\]\.buckets\[0\]: buckets 4000\.\.9999 overlap buckets 0\.\.4999 of variant "control" \(variants\[0\]\.buckets\[0\]\)/,
    );
    expect(() =>
      parseMeshConfig(
        withExperiments([
          {
            name: 'e',
            variants: [
              {
                name: 'a',
                buckets: [
                  { from: 0, to: 10 },
                  { from: 5, to: 5 },
                ],
              },
            ],
          },
        ]),
      ),
    ).toThrow(/experiments\[0\]\.variants\[0\]\.buckets\[1\]: bucket 5 overlap buckets 0\.\.10 of variant "a"/);
  });

  it('layers two experiments that set different fields, and refuses two that set the same one', () => {
    const other = (generators: Record<string, unknown>, enabled = true) => ({
      name: 'fresh_weight',
      enabled,
      variants: [{ name: 'heavier', buckets: [{ from: 0, to: 999 }], generators }],
    });
    const layered = parseMeshConfig(withExperiments([halves(), other({ fresh: { weight: 3 } })]));
    expect(layered.experiments.map((e) => e.name)).toEqual(['no_pixie', 'fresh_weight']);
    expect(() => parseMeshConfig(withExperiments([halves(), other({ pixie: { enabled: true } })]))).toThrow(
      /experiments\[1\]\.variants\[0\]\.generators\.pixie\.enabled: generators\.pixie\.enabled is also set by experiment "no_pixie" \(experiments\[0\]\)/,
    );
    // Switched off, it assigns nobody: no clash.
    expect(() =>
      parseMeshConfig(withExperiments([halves(), other({ pixie: { enabled: true } }, false)])),
    ).not.toThrow();
  });

  it('refuses duplicate experiment and variant names', () => {
    expect(() => parseMeshConfig(withExperiments([halves(), { ...halves(), variants: [] }]))).toThrow(
      /experiments\[1\]\.variants: Array must contain at least 1 element/,
    );
    expect(() =>
      parseMeshConfig(
        withExperiments([halves(), { name: 'no_pixie', variants: [{ name: 'a', buckets: [{ from: 0, to: 1 }] }] }]),
      ),
    ).toThrow(/experiments\[1\]\.name: duplicate experiment "no_pixie" \(also experiments\[0\]\)/);
    expect(() =>
      parseMeshConfig(
        withExperiments([
          {
            name: 'e',
            variants: [
              { name: 'a', buckets: [{ from: 0, to: 1 }] },
              { name: 'a', buckets: [{ from: 2, to: 3 }] },
            ],
          },
        ]),
      ),
    ).toThrow(/experiments\[0\]\.variants\[1\]\.name: duplicate variant "a" in experiment "e"/);
  });
});

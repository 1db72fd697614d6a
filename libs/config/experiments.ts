// The mesh config's `experiments`: A/B variants by user bucket, each overriding part of the blend
// policy (libs/blend/variants.ts assigns users, libs/blend/policy.ts applies the overrides). What
// the schema cannot see alone (generator names, overlapping buckets, two experiments setting the same
// field) is checked by experimentIssues, from the mesh config's own check. docs/EXPERIMENTS.md.
import { z } from 'zod';

/** Users are hashed into this many buckets per experiment: 0..BUCKETS-1. */
export const BUCKETS = 10_000;

const name = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case (a-z, 0-9, _), starting with a letter');
const bucket = z
  .number()
  .int()
  .min(0)
  .max(BUCKETS - 1);

/** A range of buckets, both ends included: { "from": 0, "to": 4999 } is half of the users. */
const bucketRange = z
  .object({ from: bucket, to: bucket })
  .strict()
  .refine((r) => r.from <= r.to, { message: 'from must not be above to', path: ['to'] });
export type BucketRange = z.infer<typeof bucketRange>;

/** What a variant may change of one generator (the rest stays as generators[] sets it). */
const generatorOverride = z
  .object({
    enabled: z.boolean().optional(),
    /** Called in the fan-out, scored on a scorecard, never on the page. */
    shadow: z.boolean().optional(),
    quota: z.number().int().min(1).max(10_000).optional(),
    weight: z.number().min(0).max(100).optional(),
  })
  .strict();
export type GeneratorOverride = z.infer<typeof generatorOverride>;

const variant = z
  .object({
    name,
    /** The buckets whose users get this variant. */
    buckets: z.array(bucketRange).min(1),
    /** Per generator name: what this variant changes of it. */
    generators: z.record(z.string(), generatorOverride).default({}),
    /** The blender's reciprocal-rank-fusion constant and page rules (services.blender). */
    rrfK: z.number().min(0).max(1000).optional(),
    maxPerCreator: z.number().int().min(1).max(500).optional(),
    maxSourceShare: z.number().min(0.05).max(1).optional(),
    /**
     * The rank stage: off keeps the pre-score order; topN candidates are sent to the ranker; version:
     * the ranker model version that scores them (the ranker holds it beside the serving one).
     */
    ranker: z
      .object({
        enabled: z.boolean().optional(),
        topN: z.number().int().min(1).max(2_000).optional(),
        version: z
          .string()
          .regex(/^v\d{4,}$/, 'must be a model version name such as v0003')
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type VariantConfig = z.infer<typeof variant>;

const experiment = z
  .object({
    name,
    /** What is tested, in a line (shown in the report). */
    description: z.string().default(''),
    /** Off: nobody is assigned, the config stays checked. */
    enabled: z.boolean().default(true),
    variants: z.array(variant).min(1),
  })
  .strict();
export type ExperimentConfig = z.infer<typeof experiment>;

export const ExperimentsSchema = z.array(experiment).default([]);

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

const show = (r: BucketRange) => (r.from === r.to ? `bucket ${r.from}` : `buckets ${r.from}..${r.to}`);

/**
 * What the schema alone cannot check: names used once, every generator a variant names is in the
 * config, no bucket in two variants of one experiment, and experiments that share users (every two
 * do: each hashes users with its own name) set different fields, so a user in both gets both.
 */
export function experimentIssues(experiments: ExperimentConfig[], generators: string[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const known = new Set(generators);
  const experimentNames = new Map<string, number>();
  // Field (e.g. generators.pixie.weight) → the first enabled experiment setting it.
  const fieldOwners = new Map<string, { experiment: string; at: string }>();
  experiments.forEach((e, ei) => {
    const at = ['experiments', ei];
    if (experimentNames.has(e.name))
      issues.push({
        path: [...at, 'name'],
        message: `duplicate experiment "${e.name}" (also experiments[${experimentNames.get(e.name)}])`,
      });
    experimentNames.set(e.name, ei);
    const variantNames = new Map<string, number>();
    const ranges: { range: BucketRange; variant: string; where: string }[] = [];
    const fieldsHere = new Map<string, (string | number)[]>();
    e.variants.forEach((v, vi) => {
      const vAt = [...at, 'variants', vi];
      if (variantNames.has(v.name))
        issues.push({
          path: [...vAt, 'name'],
          message: `duplicate variant "${v.name}" in experiment "${e.name}" (also variants[${variantNames.get(v.name)}])`,
        });
      variantNames.set(v.name, vi);
      v.buckets.forEach((range, bi) => {
        const clash = ranges.find((r) => range.from <= r.range.to && r.range.from <= range.to);
        if (clash)
          issues.push({
            path: [...vAt, 'buckets', bi],
            message: `${show(range)} overlap ${show(clash.range)} of variant "${clash.variant}" (${clash.where}): a user is in one variant of an experiment`,
          });
        ranges.push({ range, variant: v.name, where: `variants[${vi}].buckets[${bi}]` });
      });
      for (const [generator, override] of Object.entries(v.generators)) {
        if (!known.has(generator))
          issues.push({
            path: [...vAt, 'generators', generator],
            message: `unknown generator "${generator}": not in generators[] (${generators.join(', ')})`,
          });
        for (const field of Object.keys(override))
          fieldsHere.set(`generators.${generator}.${field}`, [...vAt, 'generators', generator, field]);
      }
      for (const field of ['rrfK', 'maxPerCreator', 'maxSourceShare'] as const)
        if (v[field] !== undefined) fieldsHere.set(field, [...vAt, field]);
      for (const field of Object.keys(v.ranker ?? {})) fieldsHere.set(`ranker.${field}`, [...vAt, 'ranker', field]);
    });
    if (!e.enabled) return;
    for (const [field, path] of fieldsHere) {
      const owner = fieldOwners.get(field);
      if (owner)
        issues.push({
          path,
          message: `${field} is also set by experiment "${owner.experiment}" (${owner.at}); experiments share users, so two may run at once only when they set different fields: fold them into one experiment, or switch one off (enabled: false)`,
        });
      else fieldOwners.set(field, { experiment: e.name, at: `experiments[${ei}]` });
    }
  });
  return issues;
}

/** The ranker versions the enabled experiments' variants ask for: the ranker holds them beside its serving one. */
export function rankerVersionsOf(experiments: readonly ExperimentConfig[]): string[] {
  const versions = experiments
    .filter((e) => e.enabled)
    .flatMap((e) => e.variants.flatMap((v) => (v.ranker?.version ? [v.ranker.version] : [])));
  return [...new Set(versions)];
}

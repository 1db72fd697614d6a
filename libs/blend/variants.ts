// Which variant of each experiment a user gets: a stable hash of the user id and the experiment's
// name into 0..BUCKETS-1, looked up in the variants' bucket ranges. The experiment's name is in the
// hash, so two experiments split the users independently (docs/EXPERIMENTS.md).
import type { VariantAssignment } from '../../generated/feedloom/v1/blender.js';
import { BUCKETS, type ExperimentConfig } from '../config/experiments.js';
import { hashSeed } from '../data/random.js';

/** The user's bucket in one experiment: the same on every blender, in the eval, and after a restart. */
export function bucketOf(userId: string, experiment: string): number {
  return hashSeed(experiment, userId) % BUCKETS;
}

/** The user's variant in every enabled experiment whose buckets hold it, in config order. */
export function assignVariants(experiments: readonly ExperimentConfig[], userId: string): VariantAssignment[] {
  const assigned: VariantAssignment[] = [];
  for (const e of experiments) {
    if (!e.enabled) continue;
    const bucket = bucketOf(userId, e.name);
    const variant = e.variants.find((v) => v.buckets.some((r) => r.from <= bucket && bucket <= r.to));
    if (variant) assigned.push({ experiment: e.name, variant: variant.name });
  }
  return assigned;
}

/** The label of a set of variants (metrics, scorecards): "exp:variant,exp2:variant", or "none". */
export const variantLabel = (variants: readonly VariantAssignment[]): string =>
  variants.map((v) => `${v.experiment}:${v.variant}`).join(',') || 'none';

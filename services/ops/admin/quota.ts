// Each generator's quota on the status page: what the blender asks it for now (its gauge), out of
// the configured quota, and the latency target that moves it, when it has one.
import type { GeneratorConfig } from '../../../libs/config/mesh.js';
import type { Scrape } from './prometheus.js';
import type { QuotaView } from './status.js';

/** The blender's gauge (services/blender/blend-metrics.ts, observeQuotas), label generator. */
export const QUOTA_METRIC = 'feedloom_blender_generator_quota';

/** A generator's quota: the current one from the blender's latest scrape, when it has one. */
export function quotaOf(generator: GeneratorConfig, blender: Scrape | undefined): QuotaView {
  const current = blender?.get(QUOTA_METRIC)?.find((s) => s.labels.generator === generator.name)?.value;
  return { configured: generator.quota, current, latencyTargetMs: generator.latencyTargetMs };
}

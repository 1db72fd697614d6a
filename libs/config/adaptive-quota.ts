import { z } from 'zod';

/**
 * How the blender moves a generator's quota when the generator has a latency target
 * (generators[i].latencyTargetMs; libs/blend/adaptive-quota.ts): one set of settings for every
 * such generator, `services.blender.adaptiveQuota` in the mesh config.
 */
export const AdaptiveQuotaSchema = z
  .object({
    /**
     * Calls whose latencies make one p99 (with fewer than 100, the p99 is the slowest of them). A
     * change of the quota starts a new window, so each step is judged on calls made at that quota.
     */
    windowCalls: z.number().int().min(5).max(10_000).default(100),
    /** p99 over the target: the quota is multiplied by this (out of timeouts in a few windows). */
    decreaseFactor: z.number().gt(0).lt(1).default(0.5),
    /** The lowest quota, as a share of the configured one (and never below 1 candidate). */
    minShare: z.number().gt(0).max(1).default(0.1),
    /** p99 well under the target: the quota grows back by this share of the configured one per window. */
    increaseStep: z.number().gt(0).max(1).default(0.1),
    /**
     * "Well under": at most this share of the target. The gap keeps a quota whose p99 sits just
     * under the target where it is, instead of raising it into the next cut.
     */
    recoverBelow: z.number().gt(0).max(1).default(0.8),
  })
  .strict();

export type AdaptiveQuotaSettings = z.infer<typeof AdaptiveQuotaSchema>;

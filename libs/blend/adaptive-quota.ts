// A generator's latency-adaptive quota (Twitter product-mixer's "quality factor"): the share of its
// configured quota the blender asks it for. A generator's work grows with what it is asked for, so
// when the p99 of its recent calls runs over its latency target, the share is cut (multiplicative
// decrease: out of timeouts within a few windows), and while the p99 is well under the target it
// grows back a step per window (additive increase: a gentle probe, which overshoots the target,
// not the deadline). Pure: no clock, no timers; the fan-out feeds it one latency per call.
import type { AdaptiveQuotaSettings } from '../config/adaptive-quota.js';

/** The q-quantile of the values, as the value at rank ⌈q·n⌉ (p99 of fewer than 100: the largest). */
export function quantileOf(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

export class AdaptiveQuota {
  /** The share of the configured quota asked for now, in [minShare, 1]. */
  private share = 1;
  /** Bumped by every change of the share: a call asked for before it is not judged with the calls after. */
  private changes = 0;
  /** Latencies of the calls asked for at the current share, oldest first, at most windowCalls. */
  private readonly window: number[] = [];

  constructor(
    /** The generator's latencyTargetMs. */
    readonly targetMs: number,
    private readonly settings: AdaptiveQuotaSettings,
  ) {}

  /** Which share a call is asked at: hand it back to record() with the call's latency. */
  get version(): number {
    return this.changes;
  }

  /** The quota to ask for now, out of the configured one (at least 1). */
  quotaOf(configured: number): number {
    return Math.max(1, Math.round(configured * this.share));
  }

  /** One call's latency (a late call's: until it was cut), asked at `version`. */
  record(latencyMs: number, version: number): void {
    if (version !== this.changes) return; // asked at a share that is gone: not this one's latency
    this.window.push(latencyMs);
    if (this.window.length > this.settings.windowCalls) this.window.shift();
    if (this.window.length < this.settings.windowCalls) return;
    const p99 = quantileOf(this.window, 0.99);
    const { decreaseFactor, minShare, increaseStep, recoverBelow } = this.settings;
    if (p99 > this.targetMs) this.moveTo(Math.max(minShare, this.share * decreaseFactor));
    else if (p99 <= this.targetMs * recoverBelow) this.moveTo(Math.min(1, this.share + increaseStep));
  }

  private moveTo(share: number): void {
    // Rounded, so that steps of 0.1 come back to exactly 1.
    const next = Math.round(share * 1e6) / 1e6;
    if (next === this.share) return; // at the floor or at the top: the window keeps sliding
    this.share = next;
    this.changes++;
    this.window.length = 0;
  }
}

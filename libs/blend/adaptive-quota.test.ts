import { describe, expect, it } from 'vitest';
import { AdaptiveQuotaSchema } from '../config/adaptive-quota.js';
import { AdaptiveQuota, quantileOf } from './adaptive-quota.js';

const settings = AdaptiveQuotaSchema.parse({ windowCalls: 10 });

/** `n` calls of `latencyMs`, each asked at the share current when it is made. */
function calls(q: AdaptiveQuota, n: number, latencyMs: number): void {
  for (let i = 0; i < n; i++) q.record(latencyMs, q.version);
}

describe('quantileOf', () => {
  it('is the value at rank ⌈q·n⌉: the p99 of 100 is the second largest, of fewer the largest', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantileOf(hundred, 0.99)).toBe(99);
    expect(quantileOf([5, 1, 9, 3], 0.99)).toBe(9);
    expect(quantileOf([5, 1, 9, 3], 0.5)).toBe(3);
  });
});

describe('AdaptiveQuota', () => {
  it('keeps the configured quota while the p99 is under the target', () => {
    const q = new AdaptiveQuota(60, settings);
    calls(q, 50, 59);
    expect(q.quotaOf(200)).toBe(200);
    expect(q.version).toBe(0);
  });

  it('judges a full window only, then cuts the quota by the factor, window after window, down to the floor', () => {
    const q = new AdaptiveQuota(60, settings);
    calls(q, 9, 300);
    expect(q.quotaOf(200)).toBe(200); // 9 of 10 calls: no p99 yet
    calls(q, 1, 300);
    expect(q.quotaOf(200)).toBe(100);
    calls(q, 10, 300);
    expect(q.quotaOf(200)).toBe(50);
    calls(q, 30, 300);
    expect(q.quotaOf(200)).toBe(20); // minShare 0.1
    expect(q.quotaOf(5)).toBe(1); // never below one candidate
  });

  it('raises it back by one step per window while the p99 is well under the target, and holds it just under', () => {
    const q = new AdaptiveQuota(60, settings);
    calls(q, 40, 300);
    expect(q.quotaOf(100)).toBe(10);
    calls(q, 10, 55); // under the target, but above recoverBelow (0.8 × 60 = 48): stays
    expect(q.quotaOf(100)).toBe(10);
    calls(q, 10, 40);
    expect(q.quotaOf(100)).toBe(20);
    calls(q, 9, 40);
    expect(q.quotaOf(100)).toBe(20); // the new window is not full yet
    calls(q, 1, 40);
    expect(q.quotaOf(100)).toBe(30);
    calls(q, 70, 40);
    expect(q.quotaOf(100)).toBe(100); // steps of 0.1 come back to exactly the configured quota
    calls(q, 30, 40);
    expect(q.quotaOf(100)).toBe(100);
  });

  it('does not count a call asked for at an earlier quota', () => {
    const q = new AdaptiveQuota(60, settings);
    const before = q.version;
    calls(q, 10, 300);
    expect(q.quotaOf(100)).toBe(50);
    // Calls still in flight from before the cut come back slow: they do not cut the new quota.
    for (let i = 0; i < 20; i++) q.record(300, before);
    expect(q.quotaOf(100)).toBe(50);
  });

  it('takes the p99, not the slowest call: one outlier in a hundred does not cut the quota, two do', () => {
    const q = new AdaptiveQuota(60, AdaptiveQuotaSchema.parse({}));
    calls(q, 99, 10);
    calls(q, 1, 500);
    expect(q.quotaOf(100)).toBe(100);
    calls(q, 1, 500); // the window slides: now two of the last hundred
    expect(q.quotaOf(100)).toBe(50);
  });
});

import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { InFlightLimit } from './in-flight-limit.js';

describe('InFlightLimit', () => {
  it('admits up to the limit, refuses the rest with UNAVAILABLE, and admits again once one ends', async () => {
    const limit = new InFlightLimit(2);
    const gates: (() => void)[] = [];
    const held = () => limit.run(() => new Promise<string>((resolve) => gates.push(() => resolve('done'))));
    const first = held();
    const second = held();
    expect(limit.current).toBe(2);
    const refused = await held().catch((e) => e);
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.message).toContain('services.blender.maxInFlight');
    gates[0]();
    expect(await first).toBe('done');
    expect(limit.current).toBe(1);
    const third = held();
    gates[1]();
    gates[2]();
    expect(await Promise.all([second, third])).toEqual(['done', 'done']);
    expect(limit.current).toBe(0);
  });

  it('frees its slot when the work fails', async () => {
    const limit = new InFlightLimit(1);
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run(async () => 'next')).toBe('next');
  });
});

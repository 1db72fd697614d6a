import { describe, expect, it } from 'vitest';
import { parseInterval, runEvery } from './schedule.js';

describe('parseInterval', () => {
  it('reads s, m, h and d', () => {
    expect(parseInterval('6h')).toBe(6 * 3_600_000);
    expect(parseInterval('30m')).toBe(1_800_000);
    expect(parseInterval('1.5h')).toBe(5_400_000);
    expect(parseInterval('90s')).toBe(90_000);
    expect(parseInterval('1d')).toBe(86_400_000);
  });

  it('names the flag on a bad value', () => {
    expect(() => parseInterval('6')).toThrow(/--every must be a number with a unit/);
    expect(() => parseInterval('soon')).toThrow(/got "soon"/);
    expect(() => parseInterval('0s')).toThrow(/at least 1s/);
  });
});

describe('runEvery', () => {
  it('runs cycles one after another, goes on after a failed one, and stops when aborted', async () => {
    const stop = new AbortController();
    const lines: string[] = [];
    let running = 0;
    let overlapped = false;
    let calls = 0;
    await runEvery(
      20,
      async () => {
        overlapped ||= running > 0;
        running++;
        calls++;
        await new Promise((r) => setTimeout(r, 5));
        running--;
        if (calls === 2) throw new Error('boom');
        if (calls === 4) stop.abort();
      },
      { signal: stop.signal, log: (l) => lines.push(l) },
    );
    expect(calls).toBe(4);
    expect(overlapped).toBe(false);
    expect(lines).toContain('cycle failed: boom');
  });
});

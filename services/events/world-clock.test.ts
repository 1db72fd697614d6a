import { expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { worldClock } from './world-clock.js';

it('starts at the given world time and advances with the wall clock', async () => {
  const worldEnd = Date.UTC(2026, 1, 1);
  const now = worldClock(worldEnd);
  const first = now();
  expect(first - worldEnd).toBeGreaterThanOrEqual(0);
  expect(first - worldEnd).toBeLessThan(50);
  await sleep(30);
  expect(now() - first).toBeGreaterThanOrEqual(25);
});

it('runs `speed` times faster than the wall clock', async () => {
  const worldEnd = Date.UTC(2026, 1, 1);
  const now = worldClock(worldEnd, 1000);
  await sleep(30);
  // 30 wall ms are at least 25 simulated seconds.
  expect(now() - worldEnd).toBeGreaterThanOrEqual(25_000);
});

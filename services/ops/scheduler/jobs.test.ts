import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import { scheduledJobs, schedulePlan } from './jobs.js';

const mesh = (world: object) =>
  parseMeshConfig({
    world: { preset: 'tiny', seed: 1, dir: '/tmp/no-world', ...world },
    services: { events: { port: 1 }, blender: { port: 2 } },
    generators: [{ name: 'popular', port: 3 }],
  });

describe('scheduled jobs', () => {
  it('run on simulated time: intervals shrink by world.clockSpeed', () => {
    const every = (world: object) => Object.fromEntries(scheduledJobs(mesh(world)).map((j) => [j.name, j.everyMs]));
    expect(every({})).toEqual({ compaction: 86_400_000, batch: 900_000, retrain: 21_600_000 });
    // A simulated day a wall minute: batch every 15 simulated minutes is 625 wall ms.
    expect(every({ clockSpeed: 1440 })).toEqual({ compaction: 60_000, batch: 625, retrain: 15_000 });
  });

  it('print their plan for up: world time, and wall time when the clock runs faster', () => {
    expect(schedulePlan(mesh({}))).toBe(
      'scheduler: compaction every 1d, batch every 15m, retrain every 6h; a retrained version that passes its gates is rolled out',
    );
    expect(schedulePlan(mesh({ clockSpeed: 1440 }))).toMatch(
      /^scheduler: compaction every 1d \(1m of wall time at clock speed 1440\), batch every 15m \(0\.625s/,
    );
  });
});

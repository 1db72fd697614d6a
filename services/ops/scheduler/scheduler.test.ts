import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatSchedule, leaseFileOf, readScheduleStatus, stateFileOf } from './state.js';
import { startScheduler, type ScheduledJob } from './scheduler.js';

let world: string;
beforeEach(async () => {
  world = await mkdtemp(join(tmpdir(), 'scheduler-'));
});
afterEach(async () => {
  await rm(world, { recursive: true, force: true });
});

async function until(check: () => boolean | Promise<boolean>, withinMs = 20_000): Promise<void> {
  const end = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('scheduler', () => {
  it('runs each job on its interval under one leader; the other takes over when the leader stops', async () => {
    const runs: { job: string; holder: string }[] = [];
    const jobs = (holder: string): ScheduledJob[] => [
      { name: 'quick', everyMs: 1_000, run: async () => (runs.push({ job: 'quick', holder }), 'done') },
      {
        name: 'flaky',
        everyMs: 1_000,
        run: async () => {
          runs.push({ job: 'flaky', holder });
          throw new Error('no luck');
        },
      },
    ];
    const a = startScheduler({ worldDir: world, jobs: jobs('a'), leaseTtlMs: 1_500, holder: 'a' });
    const b = startScheduler({ worldDir: world, jobs: jobs('b'), leaseTtlMs: 1_500, holder: 'b' });
    try {
      await until(() => runs.filter((r) => r.job === 'quick').length >= 2);
      const leader = runs[0].holder;
      expect(new Set(runs.map((r) => r.holder))).toEqual(new Set([leader]));
      const status = await readScheduleStatus(world);
      expect(status.leader?.holder).toBe(leader);
      expect(status.jobs.flaky).toMatchObject({ lastResult: 'failed', lastDetail: 'no luck', everyMs: 1_000 });
      expect(status.jobs.quick).toMatchObject({ lastResult: 'ok', lastDetail: 'done' });
      expect(status.jobs.quick.nextRunMs).toBeGreaterThan(status.jobs.quick.lastStartMs!);
      // A job shows as running while it runs, else its last result.
      expect(formatSchedule(status)).toMatch(/\n {2}quick +every 1s, next [^;]+; (running since|last .* ok: done)/);
      expect(formatSchedule(status)).toMatch(
        /\n {2}flaky +every 1s, next [^;]+; (running since|last .* failed: no luck)/,
      );

      await (leader === 'a' ? a : b).stop();
      const before = runs.length;
      await until(() => runs.slice(before).some((r) => r.holder !== leader));
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  it('a new leader re-runs the job a dead leader left running, once its lease has expired', async () => {
    await mkdir(join(world, 'schedule'), { recursive: true });
    const now = Date.now();
    await writeFile(
      stateFileOf(world),
      JSON.stringify({ jobs: { slow: { everyMs: 3_600_000, running: { holder: 'dead', sinceMs: now - 5_000 } } } }),
    );
    await writeFile(
      leaseFileOf(world),
      JSON.stringify({ holder: 'dead', host: 'h', pid: 1, sinceMs: now - 5_000, expiresMs: now + 1_000 }),
    );
    let ranAtMs = 0;
    const s = startScheduler({
      worldDir: world,
      jobs: [{ name: 'slow', everyMs: 3_600_000, run: async () => ((ranAtMs = Date.now()), 'finished') }],
      leaseTtlMs: 1_500,
    });
    await until(async () => (await readScheduleStatus(world)).jobs.slow?.lastResult === 'ok');
    expect(ranAtMs).toBeGreaterThanOrEqual(now + 1_000);
    await s.stop();
    expect((await readScheduleStatus(world)).leader).toBeUndefined();
  }, 60_000);

  it('a job stopped mid-run is recorded interrupted and run again at once by the next scheduler', async () => {
    let release = () => {};
    const slow: ScheduledJob = {
      name: 'slow',
      everyMs: 3_600_000,
      run: () => new Promise<string>((resolve) => (release = () => resolve('finished'))),
    };
    await mkdir(join(world, 'schedule'), { recursive: true });
    await writeFile(stateFileOf(world), JSON.stringify({ jobs: { slow: { everyMs: 3_600_000, nextRunMs: 0 } } }));
    const first = startScheduler({ worldDir: world, jobs: [slow], leaseTtlMs: 1_500 });
    await until(async () => (await readScheduleStatus(world)).jobs.slow?.running !== undefined);
    await first.stop();
    expect((await readScheduleStatus(world)).jobs.slow).toMatchObject({ lastResult: 'interrupted' });
    release();
    const second = startScheduler({
      worldDir: world,
      jobs: [{ ...slow, run: async () => 'finished again' }],
      leaseTtlMs: 1_500,
    });
    try {
      await until(async () => (await readScheduleStatus(world)).jobs.slow?.lastResult === 'ok');
      expect((await readScheduleStatus(world)).jobs.slow.lastDetail).toBe('finished again');
    } finally {
      await second.stop();
    }
  }, 60_000);
});

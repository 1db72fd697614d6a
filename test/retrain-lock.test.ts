// Two cycles never run at once: while a cycle holds the registry's lock, `feedloom retrain` (a real
// process) exits at once with status 3 and a message naming the running cycle, touching nothing.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { acquireProcessLock } from '../libs/registry/fs-atomic.js';
import { CYCLE_LOCK_FILE } from '../services/offline/retrain/cycle.js';

describe('feedloom retrain while another cycle runs', () => {
  let tmp: string;
  let world: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-retrain-lock-'));
    world = path.join(tmp, 'world');
    await simulateWorld({ preset: 'tiny', seed: 2, dir: world, days: 3, log: () => {} });
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('exits with status 3 and names the running cycle', async () => {
    const registry = path.join(world, 'models');
    const release = await acquireProcessLock(path.join(registry, CYCLE_LOCK_FILE), `a retraining cycle on ${registry}`);
    try {
      const run = await promisify(execFile)(process.execPath, ['bin/feedloom.js', 'retrain', '--world', world], {
        timeout: 120_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(
        new RegExp(
          `feedloom retrain: not starting: a retraining cycle on ${registry} is already running \\(pid ${process.pid} `,
        ),
      );
      // Nothing was trained or reported.
      expect((await fs.readdir(registry)).sort()).toEqual([CYCLE_LOCK_FILE]);
    } finally {
      await release();
    }
  }, 180_000);
});

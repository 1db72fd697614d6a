import { BATCH_JOBS } from './batch/jobs/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWorld } from './build.js';
import { currentSnapshotVersion } from './snapshots.js';
import { readWorldManifest, worldPaths } from './world.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'feedloom-build-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('buildWorld', () => {
  it('simulates once per preset and seed, and refreshes the snapshots every time', async () => {
    const dir = path.join(tmp, 'w');
    const log: string[] = [];
    const first = await buildWorld({ preset: 'tiny', seed: 9, dir, log: (l) => log.push(l) });
    expect(first.simulated).toBe(true);
    expect(first.snapshots.map((s) => s.name)).toEqual(BATCH_JOBS.map((j) => j.name));
    const snapshots = worldPaths(dir).snapshots;
    const firstVersion = await currentSnapshotVersion(snapshots, 'popularity');

    const second = await buildWorld({ preset: 'tiny', seed: 9, dir, log: (l) => log.push(l) });
    expect(second.simulated).toBe(false);
    expect(second.world).toEqual(first.world); // same manifest, same createdAt: not rebuilt
    expect(log.some((l) => l.startsWith('reusing'))).toBe(true);
    expect((await currentSnapshotVersion(snapshots, 'popularity'))! > firstVersion!).toBe(true);

    // Another seed is another world: refused, then with force the old one is moved aside, not deleted.
    await expect(buildWorld({ preset: 'tiny', seed: 10, dir, log: () => {} })).rejects.toThrow(
      new RegExp(`${dir} already holds the simulated world 'tiny' \\(seed 9\\); refusing to replace it.*--force`),
    );
    expect((await readWorldManifest(dir)).seed).toBe(9);
    const reseeded = await buildWorld({ preset: 'tiny', seed: 10, dir, log: (l) => log.push(l), force: true });
    expect(reseeded.simulated).toBe(true);
    expect((await readWorldManifest(dir)).seed).toBe(10);
    const movedTo = log.find((l) => l.startsWith('moved the world'))!.split(' aside to ')[1];
    expect((await readWorldManifest(movedTo)).seed).toBe(9);
    expect(fs.existsSync(path.join(movedTo, 'events'))).toBe(true);
  });

  it('serves an existing world as it is, and says how to make one when there is none', async () => {
    const dir = path.join(tmp, 'w');
    const existing = await buildWorld({ preset: 'default', seed: 1, dir, existing: true, log: () => {} });
    expect(existing.simulated).toBe(false);
    expect(existing.world.preset).toBe('tiny');
    await expect(
      buildWorld({ preset: 'tiny', seed: 1, dir: path.join(tmp, 'none'), existing: true, log: () => {} }),
    ).rejects.toThrow(/no world at .*feedloom import/);
  });

  it('rejects an unknown preset by name', async () => {
    await expect(buildWorld({ preset: 'huge', seed: 1, dir: path.join(tmp, 'x'), log: () => {} })).rejects.toThrow(
      /unknown world preset 'huge' \(expected one of: tiny, wide, small, default, large\)/,
    );
  });
});

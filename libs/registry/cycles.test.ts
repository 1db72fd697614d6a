import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cycleId, lastCycleReport, listCycleReports, writeCycleReport, type CycleReport } from './cycles.js';
import { acquireProcessLock, LockHeldError } from './fs-atomic.js';

let root: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-cycles-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const report = (ms: number): CycleReport => ({
  id: cycleId(ms),
  startedAtMs: ms,
  finishedAtMs: ms + 1000,
  durationMs: 1000,
  world: '/w',
  window: { trainStartMs: 0, heldoutStartMs: 1, endMs: 2, windowDays: 28, heldoutDays: 1 },
  gates: { k: 100 },
  models: [
    {
      model: 'two_tower',
      version: 'v0001',
      outcome: 'published',
      reasons: [],
      notes: [],
      checks: [],
      metrics: { candidate: { 'recall@100': 0.4 } },
      timings: {},
    },
  ],
  host: 'h',
  pid: 1,
});

describe('cycle reports', () => {
  it('are written whole under <root>/cycles and listed newest first', async () => {
    expect(await lastCycleReport(root)).toBeUndefined();
    const older = report(Date.UTC(2026, 0, 1, 12));
    const newer = report(Date.UTC(2026, 0, 2, 6));
    const file = await writeCycleReport(root, newer);
    await writeCycleReport(root, older);
    expect(file).toBe(path.join(root, 'cycles', '20260102T060000000Z.json'));
    expect((await listCycleReports(root)).map((r) => r.id)).toEqual([newer.id, older.id]);
    expect(await lastCycleReport(root)).toEqual(newer);
    // No temp files are left beside them; a stray non-report file is ignored.
    await fs.writeFile(path.join(root, 'cycles', 'notes.txt'), 'x');
    expect((await fs.readdir(path.join(root, 'cycles'))).sort()).toEqual([
      '20260101T120000000Z.json',
      '20260102T060000000Z.json',
      'notes.txt',
    ]);
    expect((await listCycleReports(root)).length).toBe(2);
  });
});

describe('acquireProcessLock', () => {
  it('refuses a second holder while the first holds it, naming the holder, and is free again after release', async () => {
    const lock = path.join(root, 'retrain.lock');
    const release = await acquireProcessLock(lock, 'a retraining cycle');
    const err = await acquireProcessLock(lock, 'a retraining cycle').catch((e) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect(err.message).toMatch(new RegExp(`a retraining cycle is already running \\(pid ${process.pid} on `));
    await release();
    const again = await acquireProcessLock(lock, 'a retraining cycle');
    await again();
    await expect(fs.access(lock)).rejects.toThrow();
  });

  it('breaks a lock whose process on this host is gone', async () => {
    const lock = path.join(root, 'retrain.lock');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await fs.writeFile(
      lock,
      JSON.stringify({ pid: Number(gone), host: hostname(), sinceMs: Date.now() - 1000, what: 'a retraining cycle' }),
    );
    const release = await acquireProcessLock(lock, 'a retraining cycle');
    expect(JSON.parse(await fs.readFile(lock, 'utf8')).pid).toBe(process.pid);
    await release();
  });

  it('breaks a lock copied along with its directory (taken for another path), even while its holder lives', async () => {
    const original = path.join(root, 'a', 'writer.lock');
    const release = await acquireProcessLock(original, 'an events service');
    const copy = path.join(root, 'copy-of-a', 'writer.lock');
    await fs.mkdir(path.dirname(copy), { recursive: true });
    await fs.copyFile(original, copy);
    // The holder (this process) lives and holds the original; the copy is not held by anyone.
    const releaseCopy = await acquireProcessLock(copy, 'an events service');
    expect(JSON.parse(await fs.readFile(copy, 'utf8')).path).toBe(path.resolve(copy));
    await expect(acquireProcessLock(original, 'an events service')).rejects.toBeInstanceOf(LockHeldError);
    await releaseCopy();
    await release();
  });
});

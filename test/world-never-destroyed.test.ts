// No command deletes or overwrites a world it did not make, nor any acknowledged event: `up`,
// `build-world` and `import` pointed at an imported world with live events refuse and leave every
// byte in place; `up --world` serves it as it is; --force moves it aside whole.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { callUnary } from '../libs/bootstrap/client.js';
import { importInteractions } from '../libs/data/importer.js';
import { writeUData } from '../libs/data/udata-fixture.js';
import { worldPaths } from '../libs/data/world.js';
import { prepareWorld } from '../services/offline/trainer/prepare-world.js';
import { startTestEvents } from './fixtures/events.js';
import { testMeshConfig, smallMesh } from './fixtures/mesh.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-never-destroyed-'));
const worldDir = join(tmp, 'world');
const input = join(tmp, 'u.data');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** sha256 of the manifest and every file under events/ (Parquet days and the live log). */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  out['world.json'] = createHash('sha256')
    .update(readFileSync(worldPaths(dir).manifest))
    .digest('hex');
  walk(worldPaths(dir).events);
  return out;
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  promisify(execFile)(process.execPath, ['bin/feedloom.js', ...args], {
    timeout: 180_000,
    env: { ...process.env, ...env },
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
  );

describe('a world someone else made', () => {
  let before: Record<string, string>;
  let configPath: string;

  beforeAll(async () => {
    writeUData(input, { users: 60, items: 120, rows: 2_000, seed: 3 });
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    // Acknowledged live events, logged the way a feed server logs them.
    const events = await startTestEvents(worldDir);
    try {
      const ack = await callUnary(
        events.client,
        'log',
        {
          events: [
            {
              userId: 'u1',
              itemId: 'i5',
              action: ActionType.ACTION_TYPE_SAVE,
              timeMs: 0,
              boardId: '',
              source: '',
              requestId: '',
            },
          ],
          idempotencyKey: 'k1',
        },
        { timeoutMs: 5_000 },
      );
      expect(ack.accepted).toBe(1);
    } finally {
      await events.stop();
    }
    before = fingerprint(worldDir);
    expect(Object.keys(before).some((f) => f.includes('live'))).toBe(true);
    configPath = testMeshConfig(worldDir, smallMesh).path;
  }, 120_000);

  it('is refused by up, build-world and import, naming the directory and the flag, and left byte-identical', async () => {
    const up = await cli(['up', '--all-in-one', '--config', configPath]);
    expect(up.code).not.toBe(0);
    expect(up.out).toContain(`${worldDir} already holds the imported world 'u.data'`);
    expect(up.out).toMatch(/with 1 file\(s\) of live events; refusing to replace it/);
    expect(up.out).toContain(`feedloom up --world ${worldDir}`);
    expect(up.out).toContain('--force');

    const build = await cli(['build-world', '--preset', 'tiny', '--dir', worldDir]);
    expect(build.code).not.toBe(0);
    expect(build.out).toContain('refusing to replace it');

    // Even the same file again: events were logged into this world since it was imported.
    const again = await cli(['import', '--input', input, '--columns', 'user,item,rating,timestamp', '--out', worldDir]);
    expect(again.code).not.toBe(0);
    expect(again.out).toContain('feedloom import --force');

    const other = join(tmp, 'other.csv');
    writeFileSync(other, '1,2,5,900000000\n');
    const different = await cli([
      'import',
      '--input',
      other,
      '--sep',
      'comma',
      '--columns',
      'user,item,rating,timestamp',
      '--out',
      worldDir,
    ]);
    expect(different.code).not.toBe(0);

    expect(fingerprint(worldDir)).toEqual(before);
  }, 300_000);

  it('is prepared and served as it is with --world, without touching its data', async () => {
    const { mesh } = testMeshConfig(worldDir, (raw) => {
      smallMesh(raw);
      raw.world.existing = true;
    });
    await prepareWorld(mesh, { log: () => {} });
    expect(fingerprint(worldDir)).toEqual(before);
  }, 120_000);

  it('is not moved aside, even with --force, while an events service writes it', async () => {
    const events = await startTestEvents(worldDir);
    let forced: { code: number; out: string };
    try {
      forced = await cli([
        'import',
        '--input',
        input,
        '--columns',
        'user,item,rating,timestamp',
        '--out',
        worldDir,
        '--force',
      ]);
    } finally {
      await events.stop();
    }
    expect(forced.code).not.toBe(0);
    expect(forced.out).toMatch(
      /is in use: an events service \(pid \d+ on host .*\) writes its events; refusing to move it aside\. Stop the mesh first/,
    );
    expect(fingerprint(worldDir)).toEqual(before);
  }, 300_000);

  it('is moved aside whole with --force, never deleted', async () => {
    const replaced = await cli(['build-world', '--preset', 'tiny', '--dir', worldDir, '--force']);
    expect(replaced.code).toBe(0);
    const movedTo = /aside to (\S+)/.exec(replaced.out)![1];
    expect(fingerprint(movedTo)).toEqual(before);
    expect(JSON.parse(readFileSync(worldPaths(worldDir).manifest, 'utf8')).source).toBe('simulator');
  }, 300_000);
});

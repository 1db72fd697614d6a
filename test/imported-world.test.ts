// A MovieLens-style file imports as it is and flows through the same batch jobs and serving as a
// simulated world; generators that need features it lacks answer empty, not with errors.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { createRng } from '../libs/data/random.js';
import { readWorldManifest } from '../libs/data/world.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testMeshConfig } from './fixtures/mesh.js';

/** A u.data-format file: user \t item \t rating \t unix seconds, with taste clusters so CF has signal. */
function writeUData(path: string): number {
  const rng = createRng(5);
  const lines: string[] = [];
  const start = Date.UTC(2024, 0, 1) / 1000;
  for (let u = 1; u <= 150; u++) {
    const cluster = u % 5;
    for (let n = 0; n < 30; n++) {
      const item = 1 + cluster * 60 + rng.int(60);
      lines.push(`${u}\t${item}\t${1 + rng.int(5)}\t${start + Math.floor(rng.next() * 30 * 86_400)}`);
    }
  }
  const good = lines.length;
  lines.splice(10, 0, 'not\ta\trow');
  lines.splice(20, 0, '7\t8\tfive\t881250949');
  lines.push('');
  writeFileSync(path, lines.join('\n'));
  return good;
}

describe('an imported interaction file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imported-'));
  const input = join(dir, 'u.data');
  const worldDir = join(dir, 'world');
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;

  beforeAll(async () => {
    writeUData(input);
  });
  afterAll(async () => mesh?.stop());

  it('imports through the CLI, reporting unparseable rows by line', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        'bin/feedloom.js',
        'import',
        '--input',
        input,
        '--sep',
        'tab',
        '--columns',
        'user,item,rating,timestamp',
        '--out',
        worldDir,
      ],
      { timeout: 120_000 },
    );
    expect(stdout).toMatch(/imported 4500 interactions/);
    expect(stdout).toMatch(/rejected 2 row\(s\)/);
    expect(stdout).toMatch(/line 11: /);
    expect(stdout).toMatch(/line 21: .*rating/);
    expect(stdout).toMatch(/snapshots built/);
    const world = await readWorldManifest(worldDir);
    expect(world.source).toBe('import');
    expect(world.features).toEqual({ creators: false, boards: false, topics: false, locales: false });
  });

  it('is served by the same mesh: CF and popularity answer, creator-based generators are not called (no follows)', async () => {
    const { mesh: config } = testMeshConfig(worldDir, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) =>
        ['popular', 'item_cooccurrence', 'followed_creators'].includes(g.name),
      );
    });
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    const blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    try {
      const response = await callUnary(
        blender,
        'blend',
        { userId: 'u12', limit: 20, debug: false, requestId: '' },
        { timeoutMs: 5_000 },
      );
      const state = Object.fromEntries(response.sources.map((s) => [s.generator, [s.state, s.candidates]]));
      expect(state.popular).toEqual([SourceState.SOURCE_STATE_OK, expect.any(Number)]);
      expect(state.item_cooccurrence[0]).toBe(SourceState.SOURCE_STATE_OK);
      expect(state.item_cooccurrence[1]).toBeGreaterThan(0);
      // An imported log has no follows: nothing for it to start from, so it is not even called.
      expect(state.followed_creators).toEqual([SourceState.SOURCE_STATE_DISABLED, 0]);
      expect(response.items.length).toBe(20);
    } finally {
      blender.close();
    }
  });
});

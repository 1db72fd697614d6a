// Generator settings are checked against each module's settings schema when a mesh starts, on every
// start-up path, and a bad one is reported by its field path, as the rest of the config is.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadMeshConfig } from '../libs/config/mesh.js';
import { serveGenerator } from '../libs/generator-sdk/serve.js';
import { startMesh } from '../services/ops/cli/up.js';
import pixie from '../services/generators/pixie/generator.js';
import { checkGeneratorSettings } from '../services/generators/registry.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testMeshConfig } from './fixtures/mesh.js';

const SERVE = fileURLToPath(new URL('../services/ops/mesh/serve.ts', import.meta.url));

/** The shipped config with pixie's settings replaced (on a world directory that does not exist). */
function withPixieSettings(settings: Record<string, unknown>) {
  const worldDir = join(mkdtempSync(join(tmpdir(), 'feedloom-settings-')), 'no-world');
  const config = testMeshConfig(worldDir, (raw) => {
    raw.generators.find((g: { name: string }) => g.name === 'pixie').settings = settings;
  });
  const at = config.mesh.generators.findIndex((g) => g.name === 'pixie');
  return { ...config, at, worldDir };
}

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: Error) => err,
  );

describe('generator settings at start-up', () => {
  it('the shipped config passes, and a module fills in its defaults', async () => {
    await expect(
      checkGeneratorSettings(loadMeshConfig('config/mesh.json'), 'config/mesh.json'),
    ).resolves.toBeUndefined();
    expect(pixie.settings.parse({ steps: 500 })).toMatchObject({ steps: 500, maxSeeds: 20, restartProbability: 0.5 });
  });

  it('refuses a setting of the wrong type, naming its field path', async () => {
    const { mesh, path, at } = withPixieSettings({ maxSeeds: 'many' });
    const err = await rejection(checkGeneratorSettings(mesh, path));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain(`invalid mesh config ${path}:`);
    expect(err!.message).toContain(`generators[${at}].settings.maxSeeds: Expected number, received string`);
  });

  it('refuses an unknown key (a typo), and a value out of range', async () => {
    const { mesh, at } = withPixieSettings({ maxSeed: 5, restartProbability: 2 });
    const err = await rejection(checkGeneratorSettings(mesh));
    expect(err!.message).toContain(`generators[${at}].settings: Unrecognized key(s) in object: 'maxSeed'`);
    expect(err!.message).toContain(
      `generators[${at}].settings.restartProbability: Number must be less than or equal to 1`,
    );
  });

  it('checks the settings every learned generator shares, and the SDK ones every generator takes', async () => {
    const { mesh } = testMeshConfig('/nowhere', (raw) => {
      raw.generators.find((g: { name: string }) => g.name === 'two_tower').settings = {
        annHosts: [{ address: 'h:1', shard: -1 }],
      };
      raw.generators.find((g: { name: string }) => g.name === 'popular').settings = { faultDelayMs: 'slow' };
    });
    const twoTower = mesh.generators.findIndex((g) => g.name === 'two_tower');
    const popular = mesh.generators.findIndex((g) => g.name === 'popular');
    const err = await rejection(checkGeneratorSettings(mesh));
    expect(err!.message).toContain(
      `generators[${twoTower}].settings.annHosts[0].shard: Number must be greater than or equal to 0`,
    );
    expect(err!.message).toContain(`generators[${popular}].settings.faultDelayMs: Expected number, received string`);
  });

  it('names a generator that has no module', async () => {
    const { mesh } = testMeshConfig('/nowhere', (raw) => raw.generators.push({ name: 'no_such_generator', port: 1 }));
    const err = await rejection(checkGeneratorSettings(mesh));
    expect(err!.message).toMatch(
      /generators\[\d+\]\.name: generator "no_such_generator" is in the mesh config but has no module/,
    );
  });

  it('stops `up` before the world is prepared, and all-in-one before anything serves', async () => {
    const { path, at, worldDir } = withPixieSettings({ maxSeeds: 'many' });
    const up = await rejection(startMesh(path, { allInOne: true }));
    expect(up!.message).toContain(`generators[${at}].settings.maxSeeds: Expected number, received string`);
    expect(existsSync(worldDir)).toBe(false);

    const { mesh } = withPixieSettings({ maxSeed: 5 });
    const allInOne = await rejection(startAllInOne(mesh, { ephemeralPorts: true }));
    expect(allInOne!.message).toContain(`generators[${at}].settings: Unrecognized key(s) in object: 'maxSeed'`);
  });

  it('stops a generator served on its own', async () => {
    const err = await rejection(serveGenerator(pixie, { snapshotsDir: tmpdir(), settings: { steps: '20k' }, port: 0 }));
    expect(err!.message).toMatch(
      /invalid settings for generator pixie:\n {2}settings\.steps: Expected number, received string/,
    );
  });

  it('stops a component process of the per-process mode, with the field path on stderr', async () => {
    const { path, at } = withPixieSettings({ earlyStopVisits: 2.5 });
    const child = spawn(process.execPath, ['--import', 'tsx', SERVE, '--config', path, 'events'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`generators[${at}].settings.earlyStopVisits: Expected integer, received float`);
  }, 60_000);
});

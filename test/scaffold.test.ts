// `make new-generator` copies the template, registers it, and the copy serves as it is.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { loadMeshConfig } from '../libs/config/mesh.js';
import { startGeneratorForTest } from '../libs/generator-sdk/testing.js';
import { newGenerator } from '../services/ops/cli/new-generator.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';

const root = process.cwd();
const name = `scaffold_probe_${process.pid}`;

describe('new-generator scaffold', () => {
  const configPath = join(mkdtempSync(join(tmpdir(), 'scaffold-')), 'mesh.json');
  copyFileSync('config/mesh.json', configPath);
  afterAll(() => rmSync(join(root, 'services/generators', name), { recursive: true, force: true }));

  it('copies the template, registers it on a free port, and the copy serves', async () => {
    const before = loadMeshConfig(configPath);
    const { dir, port } = newGenerator(root, name, 'graph', configPath);
    expect(existsSync(join(dir, 'generator.ts'))).toBe(true);
    expect(existsSync(join(dir, 'generator.test.ts'))).toBe(true);
    expect(readFileSync(join(dir, 'generator.ts'), 'utf8')).toContain(`kind: 'graph'`);

    const after = loadMeshConfig(configPath);
    expect(after.generators).toHaveLength(before.generators.length + 1);
    const entry = after.generators.find((g) => g.name === name)!;
    expect(entry).toMatchObject({ port });
    expect(before.generators.map((g) => g.port)).not.toContain(port);

    // The kind lives in the module only.
    const module = await loadGeneratorModule(name);
    expect(module.kind).toBe('graph');
    expect(entry).not.toHaveProperty('kind');
    const served = await startGeneratorForTest(module, snapshotsOf(await testWorld()));
    try {
      const response = await served.generate(UserContext.fromPartial({ userId: 'u1', topics: ['t01'] }), 10);
      expect(response.generator).toBe(name);
      expect(response.candidates).toHaveLength(10);
    } finally {
      await served.stop();
    }
  });

  it('refuses bad names, unknown kinds and existing generators', () => {
    expect(() => newGenerator(root, 'Bad-Name', 'heuristic', configPath)).toThrow(/lower_snake_case/);
    expect(() => newGenerator(root, 'fine_name', 'magic', configPath)).toThrow(
      /KIND "magic" must be one of learned, graph, heuristic/,
    );
    expect(() => newGenerator(root, 'popular', 'heuristic', configPath)).toThrow(/already exists/);
  });
});

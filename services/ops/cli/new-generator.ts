import { cpSync, existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand, REPO_ROOT } from '../../../libs/bootstrap/command.js';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import { GeneratorKinds, type GeneratorKindName } from '../../../libs/generator-sdk/define.js';

const TEMPLATE_NAME = 'template_example';

/**
 * Copies services/generators/_template to services/generators/<name> (its kind set in the module,
 * the one place a generator's kind lives) and registers it in the mesh config on the next free
 * port. The copy serves and passes its test as it is.
 */
export function newGenerator(
  root: string,
  name: string,
  kind: string,
  configPath = join(root, 'config/mesh.json'),
): { dir: string; port: number } {
  if (!/^[a-z][a-z0-9_]*$/.test(name))
    throw new Error(`NAME "${name}" must be lower_snake_case (a-z, 0-9, _), starting with a letter`);
  if (!GeneratorKinds.includes(kind as GeneratorKindName))
    throw new Error(`KIND "${kind}" must be one of ${GeneratorKinds.join(', ')}`);
  const dir = join(root, 'services/generators', name);
  if (existsSync(dir)) throw new Error(`services/generators/${name} already exists`);
  const raw = JSON.parse(readFileSync(configPath, 'utf8'));
  const mesh = parseMeshConfig(raw, configPath);
  if (mesh.generators.some((g) => g.name === name))
    throw new Error(`${configPath} already lists a generator "${name}"`);

  const tmp = `${dir}.tmp`;
  cpSync(join(root, 'services/generators/_template'), tmp, { recursive: true });
  for (const file of readdirSync(tmp)) {
    const path = join(tmp, file);
    const text = readFileSync(path, 'utf8')
      .replaceAll(TEMPLATE_NAME, name)
      .replace("kind: 'heuristic'", `kind: '${kind}'`);
    writeFileSync(path, text);
  }
  renameSync(tmp, dir);

  const used = new Set([mesh.services.events.port, mesh.services.blender.port, ...mesh.generators.map((g) => g.port)]);
  let port = Math.max(...mesh.generators.map((g) => g.port)) + 1;
  while (used.has(port)) port++;
  raw.generators.push({ name, port, quota: 200, deadlineMs: 60, weight: 0.5 });
  writeFileSync(configPath, `${JSON.stringify(raw, null, 2)}\n`);
  return { dir, port };
}

export const newGeneratorCommand = defineCommand({
  name: 'new-generator',
  usage: 'NAME --kind heuristic|graph|learned',
  summary: 'scaffold a generator from the template and register it',
  options: {
    kind: { type: 'string', arg: GeneratorKinds.join('|'), default: 'heuristic', help: 'the kind of generator' },
  },
  positionals: 'NAME',
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new Error('usage: feedloom new-generator NAME --kind heuristic|graph|learned');
    const { dir, port } = newGenerator(REPO_ROOT, positionals[0], values.kind, values.config);
    console.log(`created ${dir} (port ${port}); registered in ${values.config}`);
    console.log(`next: edit ${join(dir, 'generator.ts')}, then make test`);
    return 0;
  },
});

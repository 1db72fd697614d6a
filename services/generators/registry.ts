import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, type MeshConfig } from '../../libs/config/mesh.js';
import { settingsIssues, type GeneratorModule } from '../../libs/generator-sdk/define.js';

/** Where a generator's module lives: services/generators/<name>/generator.ts. */
export const moduleFile = (name: string) => fileURLToPath(new URL(`./${name}/generator.ts`, import.meta.url));

/** Why a config entry's generator has no module, or undefined when it has one. */
function missingModule(name: string): string | undefined {
  if (/^[a-z][a-z0-9_]*$/.test(name) && existsSync(moduleFile(name))) return undefined;
  return `generator "${name}" is in the mesh config but has no module at services/generators/${name}/generator.ts`;
}

/** Whether services/generators/<name>/generator.ts exists (a test may serve a generator of its own under a name). */
export const hasGeneratorModule = (name: string) => missingModule(name) === undefined;

/** Loads services/generators/<name>/generator.ts, the module a config entry names. */
export async function loadGeneratorModule(name: string): Promise<GeneratorModule<unknown>> {
  const missing = missingModule(name);
  if (missing) throw new Error(missing);
  const file = moduleFile(name);
  const module = (await import(/* @vite-ignore */ pathToFileURL(file).href)).default as GeneratorModule<unknown>;
  if (module?.name !== name)
    throw new Error(`services/generators/${name}/generator.ts declares name "${module?.name}", expected "${name}"`);
  return module;
}

/**
 * Checks every generator entry of a mesh config against its module: the module exists, and its
 * settings fit the module's settings schema (types, ranges, no unknown key). Run wherever a mesh is
 * started from a config (up, all-in-one, each process of the per-process mode), before anything
 * serves; problems are reported as the rest of the config's are, by field path
 * (`generators[4].settings.maxSeeds: Expected number, received string`).
 */
export async function checkGeneratorSettings(mesh: MeshConfig, source = '(inline)'): Promise<void> {
  const issues: string[] = [];
  for (const [i, g] of mesh.generators.entries()) {
    const missing = missingModule(g.name);
    if (missing) issues.push(`generators[${i}].name: ${missing}`);
    else issues.push(...settingsIssues(await loadGeneratorModule(g.name), g.settings, ['generators', i, 'settings']));
  }
  if (issues.length) throw new ConfigError(source, issues);
}

import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { GeneratorModule } from '../../libs/generator-sdk/define.js';

/** Loads services/generators/<name>/generator.ts, the module a config entry names. */
export async function loadGeneratorModule(name: string): Promise<GeneratorModule<unknown>> {
  const file = fileURLToPath(new URL(`./${name}/generator.ts`, import.meta.url));
  if (!/^[a-z][a-z0-9_]*$/.test(name) || !existsSync(file)) {
    throw new Error(`generator "${name}" is in the mesh config but has no module at services/generators/${name}/generator.ts`);
  }
  const module = (await import(/* @vite-ignore */ pathToFileURL(file).href)).default as GeneratorModule<unknown>;
  if (module?.name !== name) throw new Error(`services/generators/${name}/generator.ts declares name "${module?.name}", expected "${name}"`);
  return module;
}

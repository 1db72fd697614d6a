// The registry side of rollout and rollback: state changes that also work on a version whose
// artifacts have been damaged (it must still be markable rolled_back), and lookups that skip an
// unreadable version instead of failing on it.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  ArtifactIntegrityError,
  STATE_FILE,
  versionNumber,
  type ModelRegistry,
  type ModelState,
  type StateFile,
} from '../../../libs/registry/index.js';

/** The state recorded for a version (reads only its state.json). */
export async function stateOf(registry: ModelRegistry, model: string, version: string): Promise<ModelState> {
  const file = path.join(registry.dir(model, version), STATE_FILE);
  return (JSON.parse(await readFile(file, 'utf8')) as StateFile).state;
}

/** Moves a version to `state` unless it is there already; an illegal transition throws. */
export async function moveTo(
  registry: ModelRegistry,
  model: string,
  version: string,
  state: ModelState,
  note: string,
): Promise<void> {
  if ((await stateOf(registry, model, version)) === state) return;
  try {
    await registry.setState(model, version, state, note);
  } catch (err) {
    // setState re-reads the version after writing; damaged artifacts fail that read, not the write.
    if (!(err instanceof ArtifactIntegrityError)) throw err;
  }
}

/** Every version of model with its state, oldest first; versions whose state cannot be read are left out. */
export async function versionStates(
  registry: ModelRegistry,
  model: string,
): Promise<{ version: string; state: ModelState }[]> {
  registry.dir(model, 'v0001'); // checks the model name
  const names = (await readdir(path.join(registry.root, model)).catch(() => [] as string[]))
    .filter((n) => versionNumber(n) !== undefined)
    .sort((a, b) => versionNumber(a)! - versionNumber(b)!);
  const out: { version: string; state: ModelState }[] = [];
  for (const version of names) {
    const state = await stateOf(registry, model, version).catch(() => undefined);
    if (state) out.push({ version, state });
  }
  return out;
}

/** The newest version of model in one of `states`, other than `except` (and older than `olderThan`, if given). */
export async function newestIn(
  registry: ModelRegistry,
  model: string,
  states: readonly ModelState[],
  options: { except?: string; olderThan?: string } = {},
): Promise<string | undefined> {
  const limit = options.olderThan ? versionNumber(options.olderThan) : undefined;
  const all = await versionStates(registry, model);
  return [...all]
    .reverse()
    .find(
      (v) =>
        states.includes(v.state) &&
        v.version !== options.except &&
        (limit === undefined || versionNumber(v.version)! < limit),
    )?.version;
}

import fs from 'node:fs/promises';
import path from 'node:path';
import type { TwoTowerManifest } from '../features/two-tower.js';
import { versionNumber, type ModelRegistry, type VersionInfo } from '../registry/registry.js';
import type { ModelState } from '../registry/states.js';

/** Versions still being written or refused by validation are never loaded for serving. */
export const UNSERVABLE_STATES: readonly ModelState[] = ['training', 'rejected'];

export type TwoTowerVersion = VersionInfo<TwoTowerManifest>;

export interface VersionProblem {
  version: string;
  error: string;
}

/**
 * The servable versions of a model, oldest first. A version that cannot be read is reported in
 * `problems` and skipped, so one broken folder never hides the others.
 */
export async function servableVersions(
  registry: ModelRegistry,
  model: string,
): Promise<{ versions: TwoTowerVersion[]; problems: VersionProblem[] }> {
  const entries = await fs.readdir(path.join(registry.root, model), { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((e) => e.isDirectory() && versionNumber(e.name) !== undefined)
    .map((e) => e.name)
    .sort((a, b) => versionNumber(a)! - versionNumber(b)!);
  const versions: TwoTowerVersion[] = [];
  const problems: VersionProblem[] = [];
  for (const version of names) {
    try {
      const info = await registry.get<TwoTowerManifest>(model, version);
      if (!UNSERVABLE_STATES.includes(info.state)) versions.push(info);
    } catch (err) {
      problems.push({ version, error: (err as Error).message });
    }
  }
  return { versions, problems };
}

/** Models in the registry (folders with at least one version). */
export async function registryModels(registry: ModelRegistry): Promise<string[]> {
  return registry.models().catch(() => []);
}

/** Orders version names oldest first (v0002 before v0010). */
export function byVersion(a: string, b: string): number {
  return (versionNumber(a) ?? 0) - (versionNumber(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
}

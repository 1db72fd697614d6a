// Hands a published version to the staged rollout (services/ops/rollout/rollout.ts, rolloutVersion).
// Loaded on demand, so a cycle without --rollout never loads the mesh clients.
import type { MeshConfig } from '../../../libs/config/mesh.js';

export interface HandOff {
  mesh: MeshConfig;
  registryDir: string;
  worldDir: string;
  model: string;
  version: string;
  log: (line: string) => void;
}

/** Rolls the version out; a failed guard or a thrown error comes back as { ok: false, detail }, never as a throw. */
export async function rolloutPublished(handOff: HandOff): Promise<{ ok: boolean; detail: string }> {
  try {
    const { rolloutVersion } = await import('../../ops/rollout/rollout.js');
    const result = await rolloutVersion({
      mesh: handOff.mesh,
      registryDir: handOff.registryDir,
      worldDir: handOff.worldDir,
      model: handOff.model,
      version: handOff.version,
      log: (line) => handOff.log(`rollout ${handOff.model}/${handOff.version}: ${line}`),
    });
    return result.outcome === 'serving'
      ? { ok: true, detail: `serving (previous ${result.previous ?? 'none'})` }
      : { ok: false, detail: `rolled back: ${result.reason ?? 'a guard failed'}` };
  } catch (err) {
    return { ok: false, detail: `rollout failed: ${(err as Error).message}` };
  }
}

// What `feedloom retrain --rollout` hands the retraining cycle (services/offline/retrain/cycle.ts):
// each published version goes to the staged rollout (rollout.ts, rolloutVersion). The rollout is
// loaded on demand, so a cycle that publishes nothing never loads the mesh clients.
import type { HandOff, HandOffResult } from '../../offline/retrain/cycle.js';

/** Rolls the version out; a failed guard or a thrown error comes back as { ok: false, detail }, never as a throw. */
export async function rolloutPublished(handOff: HandOff): Promise<HandOffResult> {
  try {
    const { rolloutVersion } = await import('./rollout.js');
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

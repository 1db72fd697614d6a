// The worker-thread pool of an all-in-one process (mesh.generatorThreads): started with the first
// generator server that uses it, stopped with the last, so it lives exactly as long as they do.
import { pathToFileURL } from 'node:url';
import { snapshotsDirOf, type MeshConfig } from '../../libs/config/mesh.js';
import { GeneratorWorkerPool } from '../../libs/generator-sdk/worker-pool.js';
import type { PooledGenerator } from '../../libs/generator-sdk/worker-protocol.js';
import { loadGeneratorModule, moduleFile } from './registry.js';

export interface PoolLease {
  pool: GeneratorWorkerPool | undefined;
  release(): Promise<void>;
}

/** Hands out the mesh's pool (undefined with generatorThreads 0, or for a generator it does not serve). */
export function generatorPoolFor(mesh: MeshConfig): (name: string) => Promise<PoolLease> {
  let pool: Promise<GeneratorWorkerPool> | undefined;
  let users = 0;
  const create = async () => {
    const generators: PooledGenerator[] = [];
    for (const g of mesh.generators) {
      const module = await loadGeneratorModule(g.name);
      if (module.callsMeshServices || module.usesFaiss) continue;
      generators.push({
        name: g.name,
        moduleUrl: pathToFileURL(moduleFile(g.name)).href,
        settings: g.settings,
        snapshotsDir: snapshotsDirOf(mesh),
        pollMs: mesh.snapshotPollMs,
        mesh,
      });
    }
    const started = new GeneratorWorkerPool(mesh.generatorThreads, generators);
    started.start();
    return started;
  };
  return async (name) => {
    if (mesh.generatorThreads === 0) return { pool: undefined, release: async () => {} };
    pool ??= create();
    const shared = await pool;
    if (!shared.serves(name)) return { pool: undefined, release: async () => {} };
    users++;
    return {
      pool: shared,
      release: async () => {
        if (--users > 0) return;
        pool = undefined;
        await shared.stop();
      },
    };
  };
}

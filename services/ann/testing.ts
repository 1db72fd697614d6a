import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerSyntheticTwoTower } from '../../libs/ann/testing.js';
import { DAY_MS, readWorldManifest } from '../../libs/data/world.js';
import { TWO_TOWER_MODEL } from '../../libs/features/two-tower.js';
import { itemFeatureRows } from '../../libs/training/item-features.js';
import { runIndexer } from '../offline/indexer/indexer.js';
import { startViewer } from '../viewer/service.js';
import { startAnnHost } from './service.js';

/**
 * A learned-retrieval backend for generator tests: a registry with `versions` synthetic two-tower
 * versions (seeds 1, 2, …), each indexed, a viewer and ANN hosts in this process on free ports,
 * and the generator settings that point at them.
 */
export async function startSyntheticLearnedBackend(options: {
  worldDir: string;
  versions?: number;
  hosts?: string[];
  /** host name → version it serves (default: the newest). */
  serve?: Record<string, string>;
}) {
  const wm = await readWorldManifest(options.worldDir);
  const asOfMs = wm.startMs + wm.days * DAY_MS;
  const rows = await itemFeatureRows(options.worldDir, asOfMs);
  const registryDir = mkdtempSync(path.join(tmpdir(), 'feedloom-registry-'));
  const versions: string[] = [];
  for (let seed = 1; seed <= (options.versions ?? 1); seed++) {
    const v = await registerSyntheticTwoTower({ registryDir, rows, seed });
    await runIndexer({ registryDir, worldDir: options.worldDir, version: v.version, rows, asOfMs });
    versions.push(v.version);
  }
  const quiet = () => {};
  const viewer = await startViewer({ registryDir, keepVersions: 3, pollMs: 3_600_000, port: 0, log: quiet });
  const hosts = await Promise.all(
    (options.hosts ?? ['a', 'b']).map((name) =>
      startAnnHost({ name, registryDir, port: 0, log: quiet, pin: options.serve?.[name] ? { [TWO_TOWER_MODEL]: options.serve[name] } : undefined }),
    ),
  );
  return {
    registryDir,
    rows,
    versions,
    viewer,
    hosts,
    settings: { viewerAddress: viewer.address, annHosts: hosts.map((h) => ({ name: h.ann.name, address: h.address })) },
    async stop() {
      await Promise.all([viewer.stop(100), ...hosts.map((h) => h.stop(100))]);
    },
  };
}

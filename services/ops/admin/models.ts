// Learned-model versions: what each ANN host serves and holds (GetVersions), what the viewer holds
// (ListVersions), and every version's state history from the model registry.
import type { TlsConfig } from '../../../libs/bootstrap/tls.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AnnSearchClient } from '../../../generated/feedloom/v1/ann.js';
import { ViewerModelClient } from '../../../generated/feedloom/v1/viewer.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { addressOf, registryDirOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { ClientPool, describeCallError } from './health-probe.js';
import type { ModelsView, RegistryVersionView } from './status.js';

/** What the status page needs of libs/registry (loaded at run time: see loadRegistry). */
interface RegistryLike {
  get(
    model: string,
    version: string,
  ): Promise<{
    version: string;
    state: string;
    manifest: { createdAtMs?: number };
    history: { state: string; atMs: number; note: string }[];
  }>;
}
type RegistryModule = { ModelRegistry: new (root: string) => RegistryLike };

/**
 * libs/registry is loaded on first use rather than imported: the page then still works on a tree
 * without it (it says the registry is not available) instead of failing to start.
 */
let registryModule: Promise<RegistryModule> | undefined;
function loadRegistry(): Promise<RegistryModule> {
  const specifier = '../../../libs/registry/index.js';
  registryModule ??= import(specifier) as Promise<RegistryModule>;
  return registryModule;
}

const VERSION_DIR = /^v\d{4,}$/;
/** Versions shown per model, newest first. */
const MAX_VERSIONS = 8;

async function registryView(root: string): Promise<ModelsView['registry']> {
  const models = await readdir(root, { withFileTypes: true }).catch(() => undefined);
  if (!models) return { dir: root, available: false, reason: `no model registry at ${root} yet`, models: [] };
  let registry: RegistryLike;
  try {
    registry = new (await loadRegistry()).ModelRegistry(root);
  } catch (err) {
    return {
      dir: root,
      available: false,
      reason: `the registry library cannot be loaded: ${(err as Error).message}`,
      models: [],
    };
  }
  const out: ModelsView['registry']['models'] = [];
  for (const m of models
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()) {
    const names = (await readdir(join(root, m), { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory() && VERSION_DIR.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)))
      .slice(0, MAX_VERSIONS);
    if (names.length === 0) continue;
    // One unreadable version is shown as such; it never hides the others.
    const versions = await Promise.all(
      names.map(async (version): Promise<RegistryVersionView> => {
        try {
          const info = await registry.get(m, version);
          return { version, state: info.state, createdAtMs: info.manifest.createdAtMs, history: info.history };
        } catch (err) {
          return { version, state: 'unreadable', history: [], error: (err as Error).message };
        }
      }),
    );
    out.push({ model: m, versions });
  }
  return { dir: root, available: true, models: out };
}

export class ModelProbe {
  private readonly ann: ClientPool<AnnSearchClient>;
  private readonly viewers: ClientPool<ViewerModelClient>;

  constructor(tls?: TlsConfig) {
    this.ann = new ClientPool(AnnSearchClient, tls);
    this.viewers = new ClientPool(ViewerModelClient, tls);
  }

  async collect(mesh: MeshConfig, timeoutMs: number): Promise<ModelsView> {
    const annHosts = Promise.all(
      (mesh.ann?.hosts ?? []).map(async (h) => {
        const address = addressOf(mesh, h);
        try {
          const answer = await callUnary(this.ann.get(address), 'getVersions', {}, { timeoutMs });
          return {
            name: h.name,
            address,
            reachable: true,
            models: answer.models.map((m) => ({ ...m, loadedVersions: [...m.loadedVersions] })),
          };
        } catch (err) {
          return {
            name: h.name,
            address,
            reachable: false,
            error: describeCallError(err as Error, timeoutMs),
            models: [],
          };
        }
      }),
    );
    const viewerConfig = mesh.services.viewer;
    const viewer = viewerConfig
      ? (async () => {
          const address = addressOf(mesh, viewerConfig);
          try {
            const answer = await callUnary(this.viewers.get(address), 'listVersions', { model: '' }, { timeoutMs });
            return { address, reachable: true, versions: answer.versions };
          } catch (err) {
            return { address, reachable: false, error: describeCallError(err as Error, timeoutMs), versions: [] };
          }
        })()
      : undefined;
    return { registry: await registryView(registryDirOf(mesh)), annHosts: await annHosts, viewer: await viewer };
  }

  close(): void {
    this.ann.close();
    this.viewers.close();
  }
}

// The host-level steps of a two-tower rollout or rollback: load a version beside what a host serves
// (making room first), switch it, and check what it reports afterwards.
import { callUnary } from '../../../libs/bootstrap/client.js';
import type { AnnHostEndpoint } from '../../../libs/ann/learned-retrieval.js';
import { ADMIN_TIMEOUT_MS, type MeshClients } from './mesh-clients.js';

/**
 * Loads `version` on `host` next to what it serves, first unloading every version that is neither
 * served, `version`, nor one of `keep` (a host holds a few versions at most).
 */
export async function loadOnHost(
  clients: MeshClients,
  host: AnnHostEndpoint,
  model: string,
  version: string,
  keep: (string | undefined)[] = [],
): Promise<void> {
  const { serving, loaded } = await clients.hostVersions(host, model);
  const admin = clients.annAdmin(host);
  for (const v of loaded) {
    if (v === serving || v === version || keep.includes(v)) continue;
    await callUnary(admin, 'unloadVersion', { model, version: v }, { timeoutMs: ADMIN_TIMEOUT_MS });
  }
  await callUnary(admin, 'loadVersion', { model, version }, { timeoutMs: ADMIN_TIMEOUT_MS });
}

/** Makes `version` (loaded) the one `host` serves, and checks the host reports it and is healthy. */
export async function serveOnHost(
  clients: MeshClients,
  host: AnnHostEndpoint,
  model: string,
  version: string,
): Promise<void> {
  await callUnary(clients.annAdmin(host), 'serveVersion', { model, version }, { timeoutMs: ADMIN_TIMEOUT_MS });
  const { serving } = await clients.hostVersions(host, model);
  if (serving !== version)
    throw new Error(`host ${host.name} reports ${serving || 'nothing'} after ServeVersion ${version}`);
  const health = await clients.health(host.address, 'feedloom.v1.AnnSearch');
  if (!health.serving) throw new Error(`host ${host.name} is not healthy after serving ${version}: ${health.detail}`);
}

/** Drops `version` from `host` if it holds it and does not serve it; errors are ignored (best effort cleanup). */
export async function unloadQuietly(
  clients: MeshClients,
  host: AnnHostEndpoint,
  model: string,
  version: string,
): Promise<void> {
  try {
    const { serving, loaded } = await clients.hostVersions(host, model);
    if (serving !== version && loaded.includes(version))
      await callUnary(clients.annAdmin(host), 'unloadVersion', { model, version }, { timeoutMs: ADMIN_TIMEOUT_MS });
  } catch {
    // Cleanup only: a version left loaded costs memory, not correctness.
  }
}

/** What every host serves for model (host name → version, '' for nothing); unreachable hosts throw. */
export async function servedByHosts(
  clients: MeshClients,
  hosts: AnnHostEndpoint[],
  model: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const h of hosts) {
    try {
      out.set(h.name, (await clients.hostVersions(h, model)).serving);
    } catch (err) {
      throw new Error(`ANN host ${h.name} (${h.address}) cannot be reached: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The version most hosts serve, other than `except`; undefined when none serves one. */
export function mostServed(served: Map<string, string>, except?: string): string | undefined {
  const counts = new Map<string, number>();
  for (const v of served.values()) if (v && v !== except) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1))[0]?.[0];
}

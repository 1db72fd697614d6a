import { setMaxListeners } from 'node:events';
import { status, type ServiceError } from '@grpc/grpc-js';
import { AnnSearchClient, type Neighbor } from '../../generated/feedloom/v1/ann.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { ViewerModelClient } from '../../generated/feedloom/v1/viewer.js';
import { callUnary, connect } from '../bootstrap/client.js';
import { RpcError, unavailable } from '../bootstrap/errors.js';
import { addressOf, loadMeshConfig, DEFAULT_CONFIG_PATH, type MeshConfig } from '../config/mesh.js';
import { byVersion } from './model-versions.js';

/**
 * The client side of version-synced learned retrieval, shared by the learned generators:
 *   1. GetVersions on one ANN host → the version it serves for the model (vN);
 *   2. embed with exactly vN (viewer EmbedUser), or read item vectors of vN from that host;
 *   3. Search vN on that same host, which refuses any version it does not hold.
 * Never "latest" on one side and whatever-is-loaded on the other. A race with a rollout (the host
 * dropped vN between steps, or the viewer lacks it) is retried once from step 1 on the next host.
 */

export interface AnnHostEndpoint {
  name: string;
  address: string;
  shard: number;
}

export interface LearnedEndpoints {
  viewer?: string;
  annHosts: AnnHostEndpoint[];
}

/** Where the viewer and the ANN hosts of a mesh config are reached. */
export function endpointsFromMesh(mesh: MeshConfig): LearnedEndpoints {
  return {
    viewer: mesh.services.viewer ? addressOf(mesh, mesh.services.viewer) : undefined,
    annHosts: (mesh.ann?.hosts ?? []).map((h) => ({ name: h.name, address: addressOf(mesh, h), shard: h.shard })),
  };
}

/**
 * Endpoints for a generator: explicit settings (viewerAddress, annHosts: ["host:port"] or
 * [{name, address}]) win; then a config file named by settings.meshConfig; then the mesh config the
 * generator is served from; then $FEEDLOOM_CONFIG or config/mesh.json.
 */
export function endpointsFromSettings(settings: Record<string, unknown>, mesh?: MeshConfig): LearnedEndpoints {
  const hosts = settings.annHosts;
  if (Array.isArray(hosts) && hosts.length) {
    return {
      viewer: typeof settings.viewerAddress === 'string' ? settings.viewerAddress : undefined,
      annHosts: hosts.map((h, i) =>
        typeof h === 'string'
          ? { name: `host${i}`, address: h, shard: 0 }
          : { name: String((h as AnnHostEndpoint).name ?? `host${i}`), address: String((h as AnnHostEndpoint).address), shard: 0 },
      ),
    };
  }
  if (mesh && typeof settings.meshConfig !== 'string') return endpointsFromMesh(mesh);
  const path = typeof settings.meshConfig === 'string' ? settings.meshConfig : (process.env.FEEDLOOM_CONFIG ?? DEFAULT_CONFIG_PATH);
  return endpointsFromMesh(loadMeshConfig(path));
}

export interface RetrievalOptions {
  model: string;
  /** Time allowed for each call to the viewer or a host (default 1000 ms). */
  callTimeoutMs?: number;
  /**
   * Tests and demos only: embed with the viewer's newest version instead of the version the host
   * serves — the failure the version sync exists to prevent.
   */
  unsynced?: boolean;
}

export interface SyncedHost {
  host: AnnHostEndpoint;
  /** The version the host serves for the model: what everything in this request uses. */
  version: string;
  dim: number;
}

/** Cancellation and tracing of the calls made for one request. */
export interface CallScope {
  signal?: AbortSignal;
  requestId?: string;
}

interface HostClient extends AnnHostEndpoint {
  client: AnnSearchClient;
}

/** Most neighbours one Search returns (AnnSearch's k limit). */
export const MAX_ANN_K = 2000;

const RETRYABLE = new Set<number>([status.FAILED_PRECONDITION, status.UNAVAILABLE, status.NOT_FOUND]);

export class LearnedRetrieval {
  private readonly hosts: HostClient[];
  private readonly viewerClient: ViewerModelClient | undefined;
  private next = Math.floor(Math.random() * 1_000_000);
  readonly model: string;
  readonly unsynced: boolean;
  private readonly timeoutMs: number;

  constructor(
    readonly endpoints: LearnedEndpoints,
    options: RetrievalOptions,
  ) {
    this.model = options.model;
    this.unsynced = options.unsynced ?? false;
    this.timeoutMs = options.callTimeoutMs ?? 1000;
    this.hosts = endpoints.annHosts.map((h) => ({ ...h, client: connect(AnnSearchClient, h.address) }));
    this.viewerClient = endpoints.viewer ? connect(ViewerModelClient, endpoints.viewer) : undefined;
  }

  /**
   * Runs `work` against one ANN host and the version it serves (steps 1 and 3 of the protocol,
   * `work` does 2 and 3). Tries the next host once when a host is down, serves nothing, or a
   * version disappears mid-request.
   */
  async withSyncedHost<T>(work: (synced: SyncedHost, call: CallScope) => Promise<T>, options: CallScope = {}): Promise<T> {
    if (this.hosts.length === 0) throw unavailable('no ANN hosts are configured (mesh config ann.hosts)');
    // One listener on the caller's signal per request; the request's own calls listen on a child.
    const child = new AbortController();
    // multi_interest runs one search per interest cluster on this signal.
    setMaxListeners(64, child.signal);
    const forward = () => child.abort(options.signal?.reason);
    if (options.signal?.aborted) forward();
    else options.signal?.addEventListener('abort', forward, { once: true });
    const scope: CallScope = { signal: child.signal, requestId: options.requestId };
    try {
      let lastError: unknown;
      const attempts = Math.min(2, this.hosts.length + 1);
      for (let attempt = 0; attempt < attempts; attempt++) {
        const host = this.hosts[this.next++ % this.hosts.length];
        try {
          const synced = await this.servedVersion(host, scope);
          return await work(synced, scope);
        } catch (err) {
          lastError = err;
          if (child.signal.aborted || !RETRYABLE.has((err as ServiceError).code)) throw err;
        }
      }
      throw lastError;
    } finally {
      options.signal?.removeEventListener('abort', forward);
    }
  }

  /** Step 1: the version `host` serves for the model. */
  async servedVersion(host: AnnHostEndpoint, options: CallScope = {}): Promise<SyncedHost> {
    const client = this.client(host);
    const res = await callUnary(client, 'getVersions', {}, this.call(options));
    const served = res.models.find((m) => m.model === this.model);
    if (!served?.servingVersion) throw new RpcError(status.UNAVAILABLE, `ANN host ${host.name} serves no version of ${this.model}`);
    return { host, version: served.servingVersion, dim: served.dim };
  }

  /**
   * Step 2 for user retrieval: the user's embedding from the viewer, with the host's version — or,
   * when unsynced, with the viewer's newest version. Returns the version actually used.
   */
  async embedUser(user: UserContext, synced: SyncedHost, options: CallScope = {}): Promise<{ embedding: number[]; version: string }> {
    if (!this.viewerClient) throw unavailable('no viewer is configured (mesh config services.viewer)');
    let version = synced.version;
    if (this.unsynced) {
      const listed = await callUnary(this.viewerClient, 'listVersions', { model: this.model }, this.call(options));
      const newest = listed.versions.map((v) => v.version).sort(byVersion).pop();
      if (newest) version = newest;
    }
    const res = await callUnary(this.viewerClient, 'embedUser', { user, model: this.model, version }, this.call(options));
    return { embedding: res.embedding, version: res.version };
  }

  /** Step 2 for item-seeded retrieval: item vectors of the host's version, from that same host. */
  async itemVectors(synced: SyncedHost, itemIds: string[], options: CallScope = {}): Promise<Map<string, number[]>> {
    if (itemIds.length === 0) return new Map();
    const res = await callUnary(this.client(synced.host), 'getItemVectors', { model: this.model, version: synced.version, itemIds }, this.call(options));
    return new Map(res.vectors.map((v) => [v.itemId, v.vector]));
  }

  /** Step 3: nearest items in exactly the synced version, on the same host. */
  async search(
    synced: SyncedHost,
    vector: number[],
    k: number,
    options: { exclude?: Iterable<string>; efSearch?: number; signal?: AbortSignal; requestId?: string } = {},
  ): Promise<{ neighbors: Neighbor[]; version: string; host: string }> {
    const res = await callUnary(
      this.client(synced.host),
      'search',
      { model: this.model, version: synced.version, vector, k, excludeItems: [...(options.exclude ?? [])], efSearch: options.efSearch ?? 0, nprobe: 0 },
      this.call(options),
    );
    return { neighbors: res.neighbors, version: res.version, host: res.host };
  }

  close(): void {
    for (const h of this.hosts) h.client.close();
    this.viewerClient?.close();
  }

  private client(host: AnnHostEndpoint): AnnSearchClient {
    const found = this.hosts.find((h) => h.name === host.name && h.address === host.address);
    if (!found) throw new Error(`unknown ANN host ${host.name}`);
    return found.client;
  }

  private call(options: CallScope) {
    return { timeoutMs: this.timeoutMs, signal: options.signal, requestId: options.requestId };
  }
}

/** What a learned generator reports as its model version: one version when in sync, both when not. */
export function reportedVersion(userVersion: string | undefined, indexVersion: string): string {
  return userVersion === undefined || userVersion === indexVersion ? indexVersion : `user:${userVersion}/index:${indexVersion}`;
}

const shared = new Map<string, LearnedRetrieval>();

/** One LearnedRetrieval per (endpoints, options) in the process, built from generator settings. */
export function retrievalFor(settings: Record<string, unknown>, mesh?: MeshConfig, defaults: { model?: string } = {}): LearnedRetrieval {
  const endpoints = endpointsFromSettings(settings, mesh);
  const options: RetrievalOptions = {
    model: typeof settings.model === 'string' ? settings.model : (defaults.model ?? 'two_tower'),
    callTimeoutMs: typeof settings.callTimeoutMs === 'number' ? settings.callTimeoutMs : undefined,
    unsynced: settings.unsynced === true || process.env.FEEDLOOM_LEARNED_UNSYNCED === '1',
  };
  const key = JSON.stringify([endpoints, options]);
  let retrieval = shared.get(key);
  if (!retrieval) {
    retrieval = new LearnedRetrieval(endpoints, options);
    shared.set(key, retrieval);
  }
  return retrieval;
}

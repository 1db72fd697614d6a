import { setMaxListeners } from 'node:events';
import { status, type ServiceError } from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { z } from 'zod';
import { AnnSearchClient, type Neighbor } from '../../generated/feedloom/v1/ann.js';
import type { Candidate, UserContext } from '../../generated/feedloom/v1/common.js';
import { ViewerModelClient } from '../../generated/feedloom/v1/viewer.js';
import { callUnary, connect } from '../bootstrap/client.js';
import type { TlsConfig } from '../bootstrap/tls.js';
import { RpcError, unavailable } from '../bootstrap/errors.js';
import {
  addressOf,
  annShardCount,
  issueLines,
  loadMeshConfig,
  DEFAULT_CONFIG_PATH,
  type MeshConfig,
} from '../config/mesh.js';
import { byVersion } from './model-versions.js';
import { shardOf } from './shards.js';

/**
 * The client side of version-synced learned retrieval, shared by the learned generators. The item
 * index may be split into shards (mesh config ann.hosts[].shard), each served by one or more
 * replica hosts. Per request, one replica of every shard is picked (round-robin), and on each:
 *   1. GetVersions on the host → the version it serves for the model (vN);
 *   2. embed with exactly vN (viewer EmbedUser, once per distinct version in the request), or read
 *      item vectors of vN (from the hosts of every shard that hold vN);
 *   3. Search vN on that same host, which refuses any version it does not hold.
 * The shards' answers are then merged by score. So during a rollout each shard is searched with an
 * embedding of its own version: the version always comes from the host that answers. Never
 * "latest" on one side and whatever-is-loaded on the other. A race with a rollout (the host dropped
 * vN between steps, or the viewer lacks it) or a host that is down is retried from step 1 on the
 * shard's next replica (or once on the same host when it has none); a shard with no replica left
 * is left out and the answer's model version says so.
 */

export interface AnnHostEndpoint {
  name: string;
  address: string;
  shard: number;
}

export interface LearnedEndpoints {
  viewer?: string;
  annHosts: AnnHostEndpoint[];
  /**
   * Shards of the index (from the mesh config). When given, a host must report exactly this count;
   * when absent (hosts given one by one, e.g. a canary), it is the highest host shard + 1 and a host
   * is only checked to hold its own shard.
   */
  shardCount?: number;
  /** TLS of the channels (the mesh config's security.tls); absent: plaintext. */
  tls?: TlsConfig;
}

/** Where the viewer and the ANN hosts of a mesh config are reached. */
export function endpointsFromMesh(mesh: MeshConfig): LearnedEndpoints {
  return {
    viewer: mesh.services.viewer ? addressOf(mesh, mesh.services.viewer) : undefined,
    annHosts: (mesh.ann?.hosts ?? []).map((h) => ({ name: h.name, address: addressOf(mesh, h), shard: h.shard })),
    ...(mesh.ann ? { shardCount: annShardCount(mesh) } : {}),
    ...(mesh.security.tls ? { tls: mesh.security.tls } : {}),
  };
}

/**
 * The settings every learned generator takes (its `generators[i].settings`, beside its own): where
 * the viewer and the ANN hosts are when not the mesh config's, and how they are called.
 */
export const learnedRetrievalSettings = z.object({
  /** The viewer, with annHosts: both given here instead of taken from a mesh config. */
  viewerAddress: z.string().min(1).optional(),
  /** ANN hosts: "host:port", or { name, address, shard } for a sharded index. */
  annHosts: z
    .array(
      z.union([
        z.string().min(1),
        z
          .object({
            name: z.string().min(1).optional(),
            address: z.string().min(1),
            shard: z.number().int().min(0).default(0),
          })
          .strict(),
      ]),
    )
    .optional(),
  /** A mesh config file to take the viewer and the ANN hosts from. */
  meshConfig: z.string().min(1).optional(),
  /** The registry model retrieved with (default two_tower). */
  model: z.string().min(1).optional(),
  /** Time allowed for each call to the viewer or a host (default 1000 ms). */
  callTimeoutMs: z.number().int().min(1).optional(),
  /** Tests and demos only: see RetrievalOptions.unsynced. */
  unsynced: z.boolean().optional(),
});
export type LearnedRetrievalSettings = z.input<typeof learnedRetrievalSettings>;

/**
 * Endpoints for a generator: explicit settings (viewerAddress, annHosts: ["host:port"] or
 * [{name, address, shard?}]) win; then a config file named by settings.meshConfig; then the mesh
 * config the generator is served from; then $FEEDLOOM_CONFIG or config/mesh.json.
 */
export function endpointsFromSettings(raw: LearnedRetrievalSettings, mesh?: MeshConfig): LearnedEndpoints {
  const parsed = learnedRetrievalSettings.safeParse(raw);
  if (!parsed.success) throw new Error(issueLines(parsed.error, ['settings']).join('; '));
  const settings = parsed.data;
  if (settings.annHosts?.length) {
    return {
      viewer: settings.viewerAddress,
      annHosts: settings.annHosts.map((h, i) =>
        typeof h === 'string'
          ? { name: `host${i}`, address: h, shard: 0 }
          : { name: h.name ?? `host${i}`, address: h.address, shard: h.shard },
      ),
    };
  }
  if (mesh && settings.meshConfig === undefined) return endpointsFromMesh(mesh);
  return endpointsFromMesh(loadMeshConfig(settings.meshConfig ?? process.env.FEEDLOOM_CONFIG ?? DEFAULT_CONFIG_PATH));
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
  /** The version the host serves for the model: what everything on this shard in this request uses. */
  version: string;
  dim: number;
  /** Every version the host has loaded (the served one included). */
  loadedVersions: string[];
}

/** What the per-shard work of one request shares (set by withSyncedHost). */
export interface RequestShared {
  shardCount: number;
  /** The host each shard's work runs on now. */
  chosen: Map<number, SyncedHost>;
  /** Computed once per request: user embeddings by version, item vectors by version and shard. */
  memo: Map<string, Promise<unknown>>;
}

/** Cancellation and tracing of the calls made for one request. */
export interface CallScope {
  signal?: AbortSignal;
  requestId?: string;
  request?: RequestShared;
}

/** How a search is made: the items left out, its efSearch, and the request's cancellation and id. */
export interface SearchCallOptions {
  exclude?: Iterable<string>;
  efSearch?: number;
  signal?: AbortSignal;
  requestId?: string;
}

/** What the work on one shard returns: a learned generator's answer. */
export interface ShardAnswer {
  modelVersion?: string;
  candidates: Candidate[];
}

interface HostClient extends AnnHostEndpoint {
  client: AnnSearchClient;
}

type ShardState = { synced: SyncedHost } | { error: unknown };

/** Most neighbours one Search returns (AnnSearch's k limit). */
export const MAX_ANN_K = 2000;

// DEADLINE_EXCEEDED here is one call's own timeout (a hung host): the caller's deadline aborts the request instead.
const RETRYABLE = new Set<number>([
  status.FAILED_PRECONDITION,
  status.UNAVAILABLE,
  status.NOT_FOUND,
  status.DEADLINE_EXCEEDED,
]);

export class LearnedRetrieval {
  private readonly hosts: HostClient[];
  /** The replicas of each shard (index: shard). */
  private readonly replicas: HostClient[][];
  /** Round-robin position per shard. */
  private readonly next: number[];
  private readonly viewerClient: ViewerModelClient | undefined;
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
    this.hosts = endpoints.annHosts.map((h) => ({
      ...h,
      client: connect(AnnSearchClient, h.address, { tls: endpoints.tls }),
    }));
    const shardCount = this.hosts.length
      ? (endpoints.shardCount ?? Math.max(...this.hosts.map((h) => h.shard)) + 1)
      : 0;
    const beyond = this.hosts.find((h) => h.shard >= shardCount);
    if (beyond)
      throw new Error(`ANN host ${beyond.name} has shard ${beyond.shard}, but the index has ${shardCount} shard(s)`);
    this.replicas = Array.from({ length: shardCount }, (_, s) => this.hosts.filter((h) => h.shard === s));
    this.next = this.replicas.map(() => Math.floor(Math.random() * 1_000_000));
    this.viewerClient = endpoints.viewer
      ? connect(ViewerModelClient, endpoints.viewer, { tls: endpoints.tls })
      : undefined;
  }

  /** Shards of the item index (1 when unsharded). */
  get shardCount(): number {
    return this.replicas.length;
  }

  /**
   * Runs `work` once per shard, against one replica of it and the version that replica serves
   * (steps 1 and 3 of the protocol, `work` does 2 and 3), and merges the shards' answers by score.
   * Unsharded, the answer is `work`'s own. A shard whose replicas are all down (or keep losing the
   * version) is left out of the answer, which says so; when no shard answers, the last error is thrown.
   */
  async withSyncedHost<T extends ShardAnswer>(
    work: (synced: SyncedHost, call: CallScope) => Promise<T>,
    options: CallScope = {},
  ): Promise<T> {
    if (this.hosts.length === 0) throw unavailable('no ANN hosts are configured (mesh config ann.hosts)');
    // One listener on the caller's signal per request; the request's own calls listen on a child.
    const child = new AbortController();
    // A request may make several calls on this signal (vectors, searches), on every shard.
    setMaxListeners(64 * Math.max(1, this.shardCount), child.signal);
    const forward = () => child.abort(options.signal?.reason);
    if (options.signal?.aborted) forward();
    else options.signal?.addEventListener('abort', forward, { once: true });
    const request: RequestShared = { shardCount: this.shardCount, chosen: new Map(), memo: new Map() };
    const scope: CallScope = { signal: child.signal, requestId: options.requestId, request };
    const rotations = this.replicas.map((_, shard) => this.rotation(shard));
    const attempts = this.replicas.map(() => 0);
    const fatal = (err: unknown) => child.signal.aborted || !RETRYABLE.has((err as ServiceError).code);

    // Step 1 on the shard's next replica; a retryable failure moves on while the shard has tries left.
    const pick = async (shard: number, lastError?: unknown): Promise<ShardState> => {
      const replicas = rotations[shard];
      if (replicas.length === 0)
        return {
          error: unavailable(
            `no ANN host is configured for shard ${shard} of ${this.shardCount} (mesh config ann.hosts)`,
          ),
        };
      while (attempts[shard] < Math.max(2, replicas.length)) {
        const host = replicas[attempts[shard]++ % replicas.length];
        try {
          const synced = await this.servedVersion(host, scope);
          request.chosen.set(shard, synced);
          return { synced };
        } catch (err) {
          if (fatal(err)) throw err;
          lastError = err;
        }
      }
      return { error: lastError };
    };
    try {
      // Step 1 everywhere first: a shard's work may read item vectors from the other shards' hosts.
      const first = await Promise.all(this.replicas.map((_, shard) => pick(shard)));
      const outcomes = await Promise.all(
        first.map(async (state, shard) => {
          for (;;) {
            if ('error' in state) return { shard, error: state.error };
            try {
              return { shard, answer: await work(state.synced, scope) };
            } catch (err) {
              if (fatal(err)) throw err;
              request.chosen.delete(shard);
              state = await pick(shard, err);
            }
          }
        }),
      );
      const answered = outcomes.filter((o): o is { shard: number; answer: T } => 'answer' in o);
      const missing = outcomes.filter((o): o is { shard: number; error: unknown } => 'error' in o);
      if (answered.length === 0) throw missing[missing.length - 1].error;
      if (this.shardCount === 1) return answered[0].answer;
      for (const m of missing) {
        trace.getActiveSpan()?.addEvent('ann shard left out', {
          'feedloom.ann.shard': m.shard,
          'feedloom.ann.error': (m.error as Error).message,
        });
      }
      return { ...answered[0].answer, ...mergeShardAnswers(answered, missing, this.shardCount) };
    } catch (err) {
      // Stop the other shards' calls still in flight.
      child.abort(err);
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', forward);
    }
  }

  /** Step 1: the version `host` serves for the model, refused when the host holds another shard than the config says. */
  async servedVersion(host: AnnHostEndpoint, options: CallScope = {}): Promise<SyncedHost> {
    const client = this.client(host);
    const res = await callUnary(client, 'getVersions', {}, this.call(options));
    const served = res.models.find((m) => m.model === this.model);
    if (!served?.servingVersion)
      throw new RpcError(status.UNAVAILABLE, `ANN host ${host.name} serves no version of ${this.model}`);
    // Hosts that predate sharding report 0 of 0: the whole index.
    const shardCount = served.shardCount || 1;
    const countKnown = this.endpoints.shardCount !== undefined;
    if (served.shard !== host.shard || (countKnown && shardCount !== this.shardCount)) {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `ANN host ${host.name} holds shard ${served.shard} of ${shardCount} of ${this.model}, but the mesh config has it as shard ${host.shard} of ${this.shardCount}`,
      );
    }
    return { host, version: served.servingVersion, dim: served.dim, loadedVersions: served.loadedVersions };
  }

  /**
   * Step 2 for user retrieval: the user's embedding from the viewer, with the host's version — or,
   * when unsynced, with the viewer's newest version. Returns the version actually used. Computed
   * once per version in a request, however many shards serve that version.
   */
  async embedUser(
    user: UserContext,
    synced: SyncedHost,
    options: CallScope = {},
  ): Promise<{ embedding: number[]; version: string }> {
    const viewer = this.viewerClient;
    if (!viewer) throw unavailable('no viewer is configured (mesh config services.viewer)');
    return this.once(options, `embed:${user.userId}:${this.unsynced ? '(newest)' : synced.version}`, async () => {
      let version = synced.version;
      if (this.unsynced) {
        const listed = await callUnary(viewer, 'listVersions', { model: this.model }, this.call(options));
        const newest = listed.versions
          .map((v) => v.version)
          .sort(byVersion)
          .pop();
        if (newest) version = newest;
      }
      const res = await callUnary(viewer, 'embedUser', { user, model: this.model, version }, this.call(options));
      return { embedding: res.embedding, version: res.version };
    });
  }

  /** The seeds the synced host's index knows, each with its vector in that version (the others left out). */
  async seedVectors<S extends { itemId: string }>(
    synced: SyncedHost,
    seeds: readonly S[],
    options: CallScope = {},
  ): Promise<{ seed: S; vector: number[] }[]> {
    const vectors = await this.itemVectors(
      synced,
      seeds.map((s) => s.itemId),
      options,
    );
    return seeds.filter((s) => vectors.has(s.itemId)).map((seed) => ({ seed, vector: vectors.get(seed.itemId)! }));
  }

  /**
   * Step 2 for item-seeded retrieval: item vectors of the host's version. Unsharded, from that same
   * host; sharded, each item from the host chosen for its shard, when that host holds the version
   * (an item whose shard is down, or lacks the version, is left out, like an unknown item).
   */
  async itemVectors(synced: SyncedHost, itemIds: string[], options: CallScope = {}): Promise<Map<string, number[]>> {
    if (itemIds.length === 0) return new Map();
    const request = options.request;
    if (!request || request.shardCount <= 1) return this.itemVectorsOn(synced.host, synced.version, itemIds, options);
    const groups = new Map<number, string[]>();
    for (const id of itemIds) {
      const shard = shardOf(id, request.shardCount);
      groups.set(shard, [...(groups.get(shard) ?? []), id]);
    }
    const parts = await Promise.all(
      [...groups].map(async ([shard, ids]) => {
        const own = shard === synced.host.shard;
        const holder = own ? synced : request.chosen.get(shard);
        if (!holder || !(holder.version === synced.version || holder.loadedVersions.includes(synced.version)))
          return new Map<string, number[]>();
        const key = `vectors:${synced.version}:${shard}:${ids.join(',')}`;
        try {
          return await this.once(options, key, () => this.itemVectorsOn(holder.host, synced.version, ids, options));
        } catch (err) {
          // The own shard's failure fails this shard's work (and moves it to a replica); another's only loses its items.
          if (own || options.signal?.aborted) throw err;
          return new Map<string, number[]>();
        }
      }),
    );
    return new Map(parts.flatMap((part) => [...part]));
  }

  /** Step 3: nearest items in exactly the synced version, on the same host. */
  async search(
    synced: SyncedHost,
    vector: number[],
    k: number,
    options: SearchCallOptions = {},
  ): Promise<{ neighbors: Neighbor[]; version: string; host: string }> {
    const res = await callUnary(
      this.client(synced.host),
      'search',
      { ...this.searchScope(synced, options), vector, k },
      this.call(options),
    );
    return { neighbors: res.neighbors, version: res.version, host: res.host };
  }

  /**
   * Step 3 for several queries of one request (a user's seeds, interests): one SearchBatch on the
   * same host and version, one native search of them all; the answers in the order of the queries.
   */
  async searchMany(
    synced: SyncedHost,
    queries: { vector: number[]; k: number }[],
    options: SearchCallOptions = {},
  ): Promise<{ results: Neighbor[][]; version: string; host: string }> {
    if (queries.length === 0) return { results: [], version: synced.version, host: synced.host.name };
    const res = await callUnary(
      this.client(synced.host),
      'searchBatch',
      { ...this.searchScope(synced, options), queries },
      this.call(options),
    );
    if (res.results.length !== queries.length)
      throw new RpcError(
        status.INTERNAL,
        `ANN host ${synced.host.name} answered ${res.results.length} of ${queries.length} queries`,
      );
    return { results: res.results.map((r) => r.neighbors), version: res.version, host: res.host };
  }

  /** What a search request names besides its queries: the synced version and the search parameters. */
  private searchScope(synced: SyncedHost, options: SearchCallOptions) {
    return {
      model: this.model,
      version: synced.version,
      excludeItems: [...(options.exclude ?? [])],
      efSearch: options.efSearch ?? 0,
      nprobe: 0,
    };
  }

  close(): void {
    for (const h of this.hosts) h.client.close();
    this.viewerClient?.close();
  }

  private async itemVectorsOn(
    host: AnnHostEndpoint,
    version: string,
    itemIds: string[],
    options: CallScope,
  ): Promise<Map<string, number[]>> {
    const res = await callUnary(
      this.client(host),
      'getItemVectors',
      { model: this.model, version, itemIds },
      this.call(options),
    );
    return new Map(res.vectors.map((v) => [v.itemId, v.vector]));
  }

  /** `compute` once per key in a request (a failure is not kept: a retry computes again). */
  private once<R>(options: CallScope, key: string, compute: () => Promise<R>): Promise<R> {
    const memo = options.request?.memo;
    if (!memo) return compute();
    let pending = memo.get(key) as Promise<R> | undefined;
    if (!pending) {
      pending = compute();
      memo.set(key, pending);
      pending.catch(() => memo.delete(key));
    }
    return pending;
  }

  /** The replicas of a shard, starting at its next round-robin position. */
  private rotation(shard: number): HostClient[] {
    const replicas = this.replicas[shard];
    if (replicas.length === 0) return [];
    const start = this.next[shard]++ % replicas.length;
    return [...replicas.slice(start), ...replicas.slice(0, start)];
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

/**
 * The shards' answers as one: candidates best first by score (items live on one shard each, so
 * exact per-shard top-k lists merge into the exact global top-k), and the model version — the
 * shards' common version, or `shard0:v0001,shard1:v0002` when they differ (mid-rollout) — with
 * `(partial: …)` naming the shards that did not answer.
 */
export function mergeShardAnswers(
  answered: { shard: number; answer: ShardAnswer }[],
  missing: { shard: number; error: unknown }[],
  shardCount: number,
): ShardAnswer {
  const candidates = answered
    .flatMap((a) => a.answer.candidates)
    .sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  const sorted = [...answered].sort((a, b) => a.shard - b.shard);
  const versions = new Set(sorted.map((a) => a.answer.modelVersion ?? ''));
  let modelVersion =
    versions.size === 1
      ? [...versions][0]
      : sorted.map((a) => `shard${a.shard}:${a.answer.modelVersion ?? ''}`).join(',');
  if (missing.length) {
    const which = missing.map((m) => m.shard).sort((a, b) => a - b);
    const why = [...new Set(missing.map((m) => status[(m.error as ServiceError).code] ?? 'error'))].join('/');
    modelVersion += ` (partial: shard${which.length > 1 ? 's' : ''} ${which.join(', ')} of ${shardCount} unavailable: ${why})`;
  }
  return { modelVersion, candidates };
}

/** What a learned generator reports as its model version: one version when in sync, both when not. */
export function reportedVersion(userVersion: string | undefined, indexVersion: string): string {
  return userVersion === undefined || userVersion === indexVersion
    ? indexVersion
    : `user:${userVersion}/index:${indexVersion}`;
}

const shared = new Map<string, LearnedRetrieval>();

/** One LearnedRetrieval per (endpoints, options) in the process, built from generator settings. */
export function retrievalFor(
  settings: LearnedRetrievalSettings,
  mesh?: MeshConfig,
  defaults: { model?: string } = {},
): LearnedRetrieval {
  const endpoints = endpointsFromSettings(settings, mesh);
  const options: RetrievalOptions = {
    model: settings.model ?? defaults.model ?? 'two_tower',
    callTimeoutMs: settings.callTimeoutMs,
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

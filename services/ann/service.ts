import {
  AnnAdminService,
  AnnSearchService,
  type AnnVersionRequest,
  type AnnVersionResponse,
  type GetItemVectorsResponse,
  type GetVersionsResponse,
  type SearchBatchRequest,
  type SearchBatchResponse,
  type SearchRequest,
  type SearchResponse,
} from '../../generated/feedloom/v1/ann.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { ServingStatus } from '../../libs/bootstrap/health.js';
import { LATENCY_BUCKETS_MS, meter } from '../../libs/bootstrap/telemetry.js';

let searchDuration: ReturnType<ReturnType<typeof meter>['createHistogram']> | undefined;
import { bindService, startServer, type RunningServer, type ServerSecurity } from '../../libs/bootstrap/server.js';
import { serverSecurityOf } from '../../libs/bootstrap/mesh-security.js';
import { operationsPortOf } from '../../libs/config/security.js';
import type { ServerLimits } from '../../libs/config/server-limits.js';
import { intOrDefault, requireId, requireIntInRange, requireMaxItems } from '../../libs/bootstrap/validate.js';
import { annShardCount, registryDirOf, type MeshConfig } from '../../libs/config/mesh.js';
import { MAX_ANN_K } from '../../libs/ann/learned-retrieval.js';
import type { ItemIndex, Neighbor, SearchQuery } from '../../libs/ann/item-index.js';
import { AnnHost, type AnnHostOptions } from './host.js';

export const MAX_K = MAX_ANN_K;
const MAX_EXCLUDE = 10_000;
const MAX_ITEM_IDS = 1000;
const MAX_EF = 4096;
/** Most queries in one SearchBatch (a request's seeds or interests: 8 and 3 by default). */
export const MAX_QUERIES = 64;
const SEARCH_SERVICE = 'feedloom.v1.AnnSearch';

/** Checks one query's vector and k; `at` names it in the message ("" for Search's own fields). */
function validateQuery(at: string, vector: number[], k: number): void {
  requireIntInRange(`${at}k`, k, 1, MAX_K);
  requireMaxItems(`${at}vector`, vector, 65_536, 1);
  const bad = vector.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw invalidArgument(`${at}vector[${bad}]`, `must be a finite number (got ${vector[bad]})`);
}

/** Checks what Search and SearchBatch share after the index named: the items left out, the search parameters. */
function validateSearchScope(request: SearchRequest | SearchBatchRequest): void {
  requireMaxItems('exclude_items', request.excludeItems, MAX_EXCLUDE);
  request.excludeItems.forEach((id, i) => requireId(`exclude_items[${i}]`, id));
  intOrDefault('ef_search', request.efSearch, 0, MAX_EF);
  intOrDefault('nprobe', request.nprobe, 0, MAX_EF);
}

/** Checks a Search request; the vector's dimension is checked against the index it names. */
export function validateSearchRequest(request: SearchRequest): SearchRequest {
  requireId('model', request.model);
  requireId('version', request.version);
  validateQuery('', request.vector, request.k);
  validateSearchScope(request);
  return request;
}

/** Checks a SearchBatch request; each vector's dimension is checked against the index it names. */
export function validateSearchBatchRequest(request: SearchBatchRequest): SearchBatchRequest {
  requireId('model', request.model);
  requireId('version', request.version);
  requireMaxItems('queries', request.queries, MAX_QUERIES, 1);
  request.queries.forEach((q, i) => validateQuery(`queries[${i}].`, q.vector, q.k));
  validateSearchScope(request);
  return request;
}

/** Each vector as a Float32Array of the index's dimension, or INVALID_ARGUMENT naming the first that is not. */
function queryVectors(index: ItemIndex, request: SearchRequest | SearchBatchRequest, vectors: number[][]) {
  return vectors.map((vector, i) => {
    if (vector.length !== index.dim) {
      throw invalidArgument(
        'queries' in request ? `queries[${i}].vector` : 'vector',
        `must have ${index.dim} values for ${request.model} ${request.version} (got ${vector.length})`,
      );
    }
    return Float32Array.from(vector);
  });
}

/** AnnSearch and AnnAdmin bindings over one host's state: [search, admin]. */
export function annBindings(host: AnnHost) {
  // One native search of all the queries, timed for the feedloom.ann.search.duration metric.
  const timedSearch = async (
    index: ItemIndex,
    request: SearchRequest | SearchBatchRequest,
    queries: SearchQuery[],
  ): Promise<Neighbor[][]> => {
    const started = performance.now();
    const answers = await host.limitSearch(() =>
      index.searchMany(queries, {
        exclude: request.excludeItems.length ? new Set(request.excludeItems) : undefined,
        efSearch: request.efSearch || undefined,
        nprobe: request.nprobe || undefined,
        maxEfSearch: host.maxEfSearch,
      }),
    );
    searchDuration ??= meter().createHistogram('feedloom.ann.search.duration', {
      unit: 'ms',
      description: 'Time of one faiss search (of one or more queries) on an ANN host (off the JS thread)',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
    searchDuration.record(performance.now() - started, {
      host: host.name,
      model: request.model,
      version: request.version,
    });
    return answers;
  };
  const versionsResponse = (model: string): AnnVersionResponse => {
    const state = host.describe(model);
    return {
      host: host.name,
      servingVersion: state?.servingVersion ?? '',
      loadedVersions: state?.loadedVersions ?? [],
    };
  };
  const versionRequest = (request: AnnVersionRequest) => {
    requireId('model', request.model);
    requireId('version', request.version);
    return request;
  };
  return [
    bindService(AnnSearchService, {
      async search(request): Promise<SearchResponse> {
        validateSearchRequest(request);
        const index = host.index(request.model, request.version);
        const [vector] = queryVectors(index, request, [request.vector]);
        const [neighbors] = await timedSearch(index, request, [{ vector, k: request.k }]);
        return { neighbors, model: request.model, version: request.version, host: host.name };
      },
      async searchBatch(request): Promise<SearchBatchResponse> {
        validateSearchBatchRequest(request);
        const index = host.index(request.model, request.version);
        const vectors = queryVectors(
          index,
          request,
          request.queries.map((q) => q.vector),
        );
        const answers = await timedSearch(
          index,
          request,
          vectors.map((vector, i) => ({ vector, k: request.queries[i].k })),
        );
        return {
          results: answers.map((neighbors) => ({ neighbors })),
          model: request.model,
          version: request.version,
          host: host.name,
        };
      },
      async getVersions(): Promise<GetVersionsResponse> {
        return { host: host.name, models: host.describeAll().map((m) => ({ ...m })) };
      },
      async getItemVectors(request): Promise<GetItemVectorsResponse> {
        requireId('model', request.model);
        requireId('version', request.version);
        requireMaxItems('item_ids', request.itemIds, MAX_ITEM_IDS);
        request.itemIds.forEach((id, i) => requireId(`item_ids[${i}]`, id));
        const index = host.index(request.model, request.version);
        return {
          vectors: index
            .vectorsOf(request.itemIds)
            .map(({ itemId, vector }) => ({ itemId, vector: Array.from(vector) })),
          version: request.version,
        };
      },
    }),
    bindService(
      AnnAdminService,
      {
        async loadVersion(request): Promise<AnnVersionResponse> {
          versionRequest(request);
          await host.load(request.model, request.version);
          return versionsResponse(request.model);
        },
        async serveVersion(request): Promise<AnnVersionResponse> {
          versionRequest(request);
          host.serve(request.model, request.version);
          return versionsResponse(request.model);
        },
        async unloadVersion(request): Promise<AnnVersionResponse> {
          versionRequest(request);
          host.unload(request.model, request.version);
          return versionsResponse(request.model);
        },
      },
      'all',
    ),
  ] as const;
}

export interface AnnServerOptions extends AnnHostOptions {
  host?: string;
  port: number;
  /** AnnAdmin's own listener; default 0: any free port (RunningServer.adminAddress). */
  adminPort?: number;
  limits?: ServerLimits;
  security?: ServerSecurity;
}

/**
 * Starts an ANN host: loads its start-up versions, then serves AnnSearch, and AnnAdmin on its admin
 * port only (an operation: the admin or mesh token). AnnSearch
 * is NOT_SERVING on the health service while no model has a served version.
 */
export async function startAnnHost(options: AnnServerOptions): Promise<RunningServer & { ann: AnnHost }> {
  const ann = new AnnHost(options);
  await ann.start();
  const [search, admin] = annBindings(ann);
  const server = await startServer({
    name: `ann.${options.name}`,
    host: options.host,
    port: options.port,
    limits: options.limits,
    services: [search],
    security: options.security,
    admin: { port: options.adminPort ?? 0, services: [admin] },
  });
  const health = () =>
    server.health.set(SEARCH_SERVICE, ann.serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  ann.onChange = health;
  health();
  const stop = server.stop;
  return Object.assign(server, {
    ann,
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      ann.close();
    },
  });
}

/** The ANN host `name` of the mesh config. */
export function annHostOptionsFromMesh(
  mesh: MeshConfig,
  name: string,
  overrides: Partial<AnnServerOptions> = {},
): AnnServerOptions {
  const entry = mesh.ann?.hosts.find((h) => h.name === name);
  if (!mesh.ann || !entry)
    throw new Error(
      `the mesh config has no ANN host "${name}" (ann.hosts: ${mesh.ann?.hosts.map((h) => h.name).join(', ') || 'none'})`,
    );
  return {
    name,
    registryDir: registryDirOf(mesh),
    efSearch: mesh.ann.efSearch,
    nprobe: mesh.ann.nprobe,
    maxEfSearch: mesh.ann.maxEfSearch,
    maxInFlightSearches: mesh.ann.maxInFlightSearches,
    shard: entry.shard,
    shardCount: annShardCount(mesh),
    host: mesh.listenHost ?? mesh.host,
    port: entry.port,
    adminPort: operationsPortOf(mesh.security, `ann.${name}`, overrides.port ?? entry.port),
    limits: mesh.serverLimits,
    security: serverSecurityOf(mesh),
    ...overrides,
  };
}

import {
  AnnAdminService,
  AnnSearchService,
  type AnnVersionRequest,
  type AnnVersionResponse,
  type GetItemVectorsResponse,
  type GetVersionsResponse,
  type SearchRequest,
  type SearchResponse,
} from '../../generated/feedloom/v1/ann.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { ServingStatus } from '../../libs/bootstrap/health.js';
import { LATENCY_BUCKETS_MS, meter } from '../../libs/bootstrap/telemetry.js';

let searchDuration: ReturnType<ReturnType<typeof meter>['createHistogram']> | undefined;
import { bindService, startServer, type RunningServer } from '../../libs/bootstrap/server.js';
import { intOrDefault, requireId, requireIntInRange, requireMaxItems } from '../../libs/bootstrap/validate.js';
import { annShardCount, registryDirOf, type MeshConfig } from '../../libs/config/mesh.js';
import { MAX_ANN_K } from '../../libs/ann/learned-retrieval.js';
import { AnnHost, type AnnHostOptions } from './host.js';

export const MAX_K = MAX_ANN_K;
const MAX_EXCLUDE = 10_000;
const MAX_ITEM_IDS = 1000;
const MAX_EF = 4096;
const SEARCH_SERVICE = 'feedloom.v1.AnnSearch';

/** Checks a Search request; the vector's dimension is checked against the index it names. */
export function validateSearchRequest(request: SearchRequest): SearchRequest {
  requireId('model', request.model);
  requireId('version', request.version);
  requireIntInRange('k', request.k, 1, MAX_K);
  requireMaxItems('vector', request.vector, 65_536, 1);
  const bad = request.vector.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw invalidArgument(`vector[${bad}]`, `must be a finite number (got ${request.vector[bad]})`);
  requireMaxItems('exclude_items', request.excludeItems, MAX_EXCLUDE);
  request.excludeItems.forEach((id, i) => requireId(`exclude_items[${i}]`, id));
  intOrDefault('ef_search', request.efSearch, 0, MAX_EF);
  intOrDefault('nprobe', request.nprobe, 0, MAX_EF);
  return request;
}

/** AnnSearch + AnnAdmin bindings over one host's state. */
export function annBindings(host: AnnHost) {
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
        if (request.vector.length !== index.dim) {
          throw invalidArgument(
            'vector',
            `must have ${index.dim} values for ${request.model} ${request.version} (got ${request.vector.length})`,
          );
        }
        const started = performance.now();
        const neighbors = await index.search(Float32Array.from(request.vector), request.k, {
          exclude: request.excludeItems.length ? new Set(request.excludeItems) : undefined,
          efSearch: request.efSearch || undefined,
          nprobe: request.nprobe || undefined,
        });
        searchDuration ??= meter().createHistogram('feedloom.ann.search.duration', {
          unit: 'ms',
          description: 'Time of one faiss search on an ANN host (off the JS thread)',
          advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
        });
        searchDuration.record(performance.now() - started, {
          host: host.name,
          model: request.model,
          version: request.version,
        });
        return { neighbors, model: request.model, version: request.version, host: host.name };
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
    bindService(AnnAdminService, {
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
    }),
  ];
}

export interface AnnServerOptions extends AnnHostOptions {
  host?: string;
  port: number;
}

/**
 * Starts an ANN host: loads its start-up versions, then serves AnnSearch and AnnAdmin. AnnSearch
 * is NOT_SERVING on the health service while no model has a served version.
 */
export async function startAnnHost(options: AnnServerOptions): Promise<RunningServer & { ann: AnnHost }> {
  const ann = new AnnHost(options);
  await ann.start();
  const server = await startServer({
    name: `ann.${options.name}`,
    host: options.host,
    port: options.port,
    services: annBindings(ann),
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
    shard: entry.shard,
    shardCount: annShardCount(mesh),
    host: mesh.listenHost ?? mesh.host,
    port: entry.port,
    ...overrides,
  };
}

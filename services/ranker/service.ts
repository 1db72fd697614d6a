import { performance } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  RankerService,
  type CandidateScore,
  type RankCandidate,
  type RankerStatus,
  type RankResponse,
} from '../../generated/feedloom/v1/ranker.js';
import { RpcError, unavailable } from '../../libs/bootstrap/errors.js';
import { rankerVersionsOf } from '../../libs/config/experiments.js';
import { ServingStatus } from '../../libs/bootstrap/health.js';
import { bindService, startServer, type RunningServer } from '../../libs/bootstrap/server.js';
import { serverSecurityOf } from '../../libs/bootstrap/mesh-security.js';
import { meter } from '../../libs/bootstrap/telemetry.js';
import { warmGate } from '../../libs/bootstrap/warm-up.js';
import type { MeshConfig } from '../../libs/config/mesh.js';
import { SnapshotSource } from '../../libs/data/snapshot-source.js';
import { OnnxRunError } from '../../libs/onnx/pool.js';
import { ModelRegistry } from '../../libs/registry/index.js';
import { rankerCatalogSnapshot, type RankerCatalog } from '../../libs/ranking/catalog.js';
import { encodeRankInputs, utilityOf, type UtilityWeights } from '../../libs/ranking/encoding.js';
import { feedsFor } from './model-checks.js';
import { RankerModelStore, type LoadedRanker } from './model-store.js';
import { validateRankRequest } from './validate.js';

const SERVICE_NAME = 'feedloom.v1.Ranker';
/** Candidates in the synthetic Rank run before the first SERVING (about a Blend's rank stage). */
const WARM_UP_CANDIDATES = 200;

export interface RankerOptions {
  snapshotsDir: string;
  registryDir: string;
  /** onnx worker threads (default 2). */
  workers?: number;
  /** How often to look for new model versions and snapshots (default: the mesh's snapshotPollMs). */
  pollMs?: number;
}

const instruments = () => ({
  duration: meter().createHistogram('feedloom.ranker.duration', {
    unit: 'ms',
    description: 'Time to score one Rank request (encode + model)',
  }),
  candidates: meter().createHistogram('feedloom.ranker.candidates', { description: 'Candidates per Rank request' }),
});
let metrics: ReturnType<typeof instruments> | undefined;

/** The Ranker service: scores a user's candidates with the serving model version from the registry. */
export async function createRanker(mesh: MeshConfig, options: RankerOptions) {
  const cfg = mesh.services.ranker;
  if (!cfg) throw new Error('services.ranker is not in the mesh config');
  const weights: UtilityWeights = { ...cfg.weights };
  const pollMs = options.pollMs ?? mesh.snapshotPollMs;
  let onHealth: (serving: boolean) => void = () => {};
  const ready = () => Boolean(store.current && catalog.current);
  const catalog = new SnapshotSource(rankerCatalogSnapshot, options.snapshotsDir, () => onHealth(ready()));
  const store = new RankerModelStore(
    new ModelRegistry(options.registryDir),
    cfg.model,
    { workers: options.workers, experimentVersions: rankerVersionsOf(mesh.experiments) },
    () => onHealth(ready()),
  );

  const binding = bindService(RankerService, {
    async rank(request, ctx): Promise<RankResponse> {
      validateRankRequest(request);
      const items = catalog.current?.data;
      if (!items) throw unavailable(`the ranker has no item features: ${catalog.error ?? 'snapshots not loaded yet'}`);
      const started = performance.now();
      const answer = await store.use(
        (model) => score(model, request.user!, request.candidates, items, weights, ctx.signal),
        request.modelVersion || undefined,
      );
      if (!answer && request.modelVersion && store.current)
        throw new RpcError(
          status.FAILED_PRECONDITION,
          `model_version: ${cfg.model} ${request.modelVersion} is not held here (serving ${store.current.version}${store.experimentVersions.length ? `; held for experiments: ${store.experimentVersions.join(', ')}` : ''})`,
        );
      if (!answer)
        throw unavailable(
          `no ${cfg.model} model is loaded from ${options.registryDir}${store.refused.length ? ` (refused: ${store.refused.map((r) => `${r.version}: ${r.reason}`).join('; ')})` : ' (no version is published yet)'}`,
        );
      metrics ??= instruments();
      metrics.duration.record(performance.now() - started, { model_version: answer.modelVersion });
      metrics.candidates.record(request.candidates.length);
      return answer;
    },
    async getStatus(): Promise<RankerStatus> {
      const current = store.current;
      return {
        model: cfg.model,
        modelVersion: current?.version ?? '',
        loadedAtMs: current?.loadedAtMs ?? 0,
        refused: store.refused.map((r) => ({ version: r.version, reason: r.reason, refusedAtMs: r.atMs })),
        weights,
        registry: options.registryDir,
        experimentVersions: store.experimentVersions,
      };
    },
  });

  await catalog.start(pollMs);
  await store.start(pollMs);
  return {
    binding,
    store,
    catalog,
    /** Ranks a synthetic list of catalog items for a viewer with no history: the hot path, once. */
    async warmUp(): Promise<void> {
      const items = catalog.current?.data;
      if (!items) return;
      const user = UserContext.fromPartial({ userId: '__warm_up__', requestTimeMs: Date.now() });
      const candidates = [...items.keys()].slice(0, WARM_UP_CANDIDATES).map((itemId) => ({ itemId, sources: [] }));
      const signal = AbortSignal.timeout(10_000);
      for (let i = 0; i < 3; i++) await store.use((model) => score(model, user, candidates, items, weights, signal));
    },
    set onHealth(fn: (serving: boolean) => void) {
      onHealth = fn;
      fn(ready());
    },
    async close() {
      catalog.stop();
      await store.close();
    },
  };
}

async function score(
  model: LoadedRanker,
  user: UserContext,
  candidates: RankCandidate[],
  items: RankerCatalog,
  weights: UtilityWeights,
  signal: AbortSignal,
): Promise<RankResponse> {
  const requestMs = Number(user.requestTimeMs) || Date.now();
  const feeds = encodeRankInputs(user, candidates, (id) => items.get(id), requestMs, model.manifest.encoding);
  let outputs;
  try {
    outputs = await model.pool.run(feedsFor(model.pool, feeds), { signal });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof OnnxRunError && err.overloaded)
      throw new RpcError(status.RESOURCE_EXHAUSTED, `the ranker is overloaded: ${err.message}`);
    throw new RpcError(status.INTERNAL, `ranking model ${model.version} failed: ${(err as Error).message}`);
  }
  const click = outputs.p_click.data as Float32Array;
  const save = outputs.p_save.data as Float32Array;
  const hide = outputs.p_hide.data as Float32Array;
  const scores: CandidateScore[] = candidates.map((c, i) => {
    const p = { click: click[i], save: save[i], hide: hide[i] };
    return { itemId: c.itemId, pClick: p.click, pSave: p.save, pHide: p.hide, utility: utilityOf(weights, p) };
  });
  return { scores, modelVersion: model.version, weights };
}

/** Serves the Ranker on its own gRPC server: NOT_SERVING until a model and the item snapshots are loaded. */
export async function startRanker(
  mesh: MeshConfig,
  options: RankerOptions & { port?: number; host?: string },
): Promise<RunningServer & { store: RankerModelStore }> {
  const ranker = await createRanker(mesh, options);
  const server = await startServer({
    name: 'ranker',
    host: options.host ?? mesh.listenHost ?? mesh.host,
    port: options.port ?? mesh.services.ranker!.port,
    limits: mesh.serverLimits,
    services: [ranker.binding],
    security: serverSecurityOf(mesh),
  });
  const gate = warmGate(
    'ranker',
    (serving) => {
      const s = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      server.health.set('', s);
      server.health.set(SERVICE_NAME, s);
    },
    () => ranker.warmUp(),
  );
  ranker.onHealth = (ready) => gate.update(ready);
  const stop = server.stop;
  return Object.assign(server, {
    store: ranker.store,
    warming: gate.warming,
    stop: async (graceMs?: number) => {
      await stop(graceMs);
      await ranker.close();
    },
  });
}

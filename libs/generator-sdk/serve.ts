import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserContext, type Candidate } from '../../generated/feedloom/v1/common.js';
import {
  CandidateGeneratorService,
  GeneratorKind,
  type DescribeResponse,
  type GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import { deadlineExceeded, unavailable } from '../bootstrap/errors.js';
import { bindService, startServer, type RunningServer, type ServiceBinding } from '../bootstrap/server.js';
import { ServingStatus } from '../bootstrap/health.js';
import { meter, tracer } from '../bootstrap/telemetry.js';
import { warmGate } from '../bootstrap/warm-up.js';
import type { MeshConfig } from '../config/mesh.js';
import { SnapshotSource } from '../data/snapshot-source.js';
import { warmUpUsers } from './warm-up-users.js';
import { parseGeneratorSettings, type GenerateResult, type GeneratorKindName, type GeneratorModule } from './define.js';
import { validateGenerateRequest } from './validate.js';

export interface GeneratorServeOptions {
  /** Where the batch jobs publish snapshots (usually <world>/snapshots). */
  snapshotsDir: string;
  /** Its settings as configured; checked against the module's settings schema before it serves. */
  settings?: Record<string, unknown>;
  pollMs?: number;
  /** The mesh config it is served from, handed to the module's prepare. */
  mesh?: MeshConfig;
}

const KIND: Record<GeneratorKindName, GeneratorKind> = {
  learned: GeneratorKind.GENERATOR_KIND_LEARNED,
  graph: GeneratorKind.GENERATOR_KIND_GRAPH,
  heuristic: GeneratorKind.GENERATOR_KIND_HEURISTIC,
};

/** A module's kind as Describe reports it, back to its name (undefined for UNSPECIFIED or unknown). */
export function kindName(kind: GeneratorKind): GeneratorKindName | undefined {
  return (Object.keys(KIND) as GeneratorKindName[]).find((name) => KIND[name] === kind);
}
const SERVICE_NAME = 'feedloom.v1.CandidateGenerator';

const instruments = () => ({
  duration: meter().createHistogram('feedloom.generator.duration', {
    unit: 'ms',
    description: 'Time a generator spends on one Generate call',
  }),
  candidates: meter().createCounter('feedloom.generator.candidates', {
    description: 'Candidates returned by a generator',
  }),
});
let metrics: ReturnType<typeof instruments> | undefined;

/** Keeps the first proposal of each item, drops empty ids and non-finite scores, caps at the quota. */
export function normalizeCandidates(candidates: Candidate[], quota: number): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of candidates) {
    if (out.length >= quota) break;
    if (!c.itemId || seen.has(c.itemId) || !Number.isFinite(c.score)) continue;
    seen.add(c.itemId);
    out.push({ itemId: c.itemId, score: c.score, reason: c.reason ?? '' });
  }
  return out;
}

/**
 * Fault injection, for load and fault tests only: `settings.faultDelayMs` in a generator's mesh
 * config entry (or FEEDLOOM_FAULT_DELAY_MS in its process's environment) makes every Generate
 * call wait that long before answering, as a generator that has become slow would. Off (0) by default.
 */
export function faultDelayMsOf(settings: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): number {
  const value = settings.faultDelayMs ?? env.FEEDLOOM_FAULT_DELAY_MS;
  const ms = Number(value ?? 0);
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`settings.faultDelayMs: must be a number of ms >= 0 (got ${String(value)})`);
  return ms;
}

const candidatesOf = (result: GenerateResult) =>
  Array.isArray(result) ? { candidates: result, modelVersion: '' } : { modelVersion: '', ...result };

/** A generator as a CandidateGenerator service binding plus its snapshot source. */
export function generatorBinding<Data>(module: GeneratorModule<Data>, options: GeneratorServeOptions) {
  let onHealth: (serving: boolean) => void = () => {};
  const settings = parseGeneratorSettings(module, options.settings);
  const { prepare } = module;
  // Synthetic viewers from the newest snapshot's ids, for the warm-up before the first SERVING.
  let warmUpUsersNow: UserContext[] = [];
  const source = new SnapshotSource<Data>(
    {
      name: module.name,
      snapshots: module.snapshots,
      prepare: (rows) => {
        warmUpUsersNow = warmUpUsers(rows);
        return prepare ? prepare(rows, settings, options.mesh) : (rows as Data);
      },
    },
    options.snapshotsDir,
    (ready) => onHealth(ready),
  );
  const faultDelayMs = faultDelayMsOf(settings);

  const binding: ServiceBinding = bindService(CandidateGeneratorService, {
    async generate(request, ctx): Promise<GenerateResponse> {
      validateGenerateRequest(request);
      const loaded = source.current;
      if (!loaded)
        throw unavailable(
          `generator ${module.name} has no data to serve: ${source.error ?? 'snapshots not loaded yet'}`,
        );
      // A call that waited in the queue past its deadline gets no work: under overload, doing it
      // anyway only delays the calls behind it, which then miss their deadlines too.
      if (Date.now() >= ctx.deadline)
        throw deadlineExceeded(`generator ${module.name}: the call's deadline passed before it was served`);
      const started = performance.now();
      // The deadline's abort ends the wait; the server wrapper then answers DEADLINE_EXCEEDED.
      if (faultDelayMs > 0) await sleep(faultDelayMs, undefined, { signal: ctx.signal });
      const span = tracer().startSpan(`generate ${module.name}`, { attributes: { 'feedloom.generator': module.name } });
      try {
        const result = candidatesOf(
          await module.generate(
            { user: request.user!, quota: request.quota, requestId: ctx.requestId },
            { data: loaded.data, settings, signal: ctx.signal },
          ),
        );
        const candidates = normalizeCandidates(result.candidates, request.quota);
        span.setAttribute('feedloom.candidates', candidates.length);
        if (result.modelVersion) span.setAttribute('feedloom.model_version', result.modelVersion);
        metrics ??= instruments();
        metrics.duration.record(performance.now() - started, { generator: module.name });
        metrics.candidates.add(candidates.length, { generator: module.name });
        return {
          generator: module.name,
          candidates,
          snapshotVersion: Object.values(loaded.versions).join(','),
          modelVersion: result.modelVersion,
        };
      } finally {
        span.end();
      }
    },
    async describe(): Promise<DescribeResponse> {
      const loaded = source.current;
      return {
        name: module.name,
        kind: KIND[module.kind],
        description: module.description,
        requestCost: module.requestCost,
        snapshots: module.snapshots.map(({ name }) => ({
          name,
          version: loaded?.versions[name] ?? '',
          rows: loaded?.rows[name] ?? 0,
        })),
      };
    },
  });

  return {
    binding,
    source,
    settings,
    /** The synthetic viewers to warm up with (from the snapshots loaded last). */
    get warmUpUsers() {
      return warmUpUsersNow;
    },
    /** Called with the data's readiness whenever it changes. */
    set onHealth(fn: (serving: boolean) => void) {
      onHealth = fn;
    },
  };
}

const WARM_UP_ROUNDS = 5;
/** A warm-up call that takes longer than this is left behind: the generator serves anyway. */
const WARM_UP_CALL_MS = 5_000;

/** A few calls of the module's generate for each synthetic viewer, awaited; their errors do not matter. */
async function warmUp<Data>(
  module: GeneratorModule<Data>,
  data: Data,
  settings: Record<string, unknown>,
  users: UserContext[],
): Promise<void> {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    await Promise.all(
      users.map(async (user) => {
        // One signal per call, as real calls have.
        const signal = AbortSignal.timeout(WARM_UP_CALL_MS);
        const call = Promise.resolve()
          .then(() => module.generate({ user, quota: 50, requestId: 'warm-up' }, { data, settings, signal }))
          .catch(() => {});
        const late = sleep(WARM_UP_CALL_MS, undefined, { ref: false });
        await Promise.race([call, late]);
      }),
    );
  }
}

/**
 * Serves one generator module on its own gRPC server. NOT_SERVING until its snapshots load and a
 * few calls of its generate on synthetic viewers have run (`warming()` resolves then).
 */
export async function serveGenerator<Data>(
  module: GeneratorModule<Data>,
  options: GeneratorServeOptions & { port: number; host?: string },
): Promise<RunningServer & { source: SnapshotSource<Data>; warming(): Promise<void> }> {
  const generator = generatorBinding(module, options);
  const server = await startServer({
    name: `generator.${module.name}`,
    host: options.host,
    port: options.port,
    services: [generator.binding],
  });
  const setHealth = (serving: boolean) => {
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    server.health.set('', status);
    server.health.set(SERVICE_NAME, status);
  };
  const gate = warmGate(`generator.${module.name}`, setHealth, () =>
    warmUp(module, generator.source.current!.data, generator.settings, generator.warmUpUsers),
  );
  generator.onHealth = (ready) => gate.update(ready);
  setHealth(false);
  await generator.source.start(options.pollMs ?? 5_000);
  const stop = server.stop;
  return Object.assign(server, {
    source: generator.source,
    warming: gate.warming,
    stop: (graceMs?: number) => {
      generator.source.stop();
      return stop(graceMs);
    },
  });
}

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { GeneratorKind, type DescribeResponse, type GenerateResponse } from '../../generated/feedloom/v1/generator.js';
import { deadlineExceeded, unavailable } from '../bootstrap/errors.js';
import { bindService, startServer, type RunningServer, type ServiceBinding } from '../bootstrap/server.js';
import { serverSecurityOf } from '../bootstrap/mesh-security.js';
import { ServingStatus } from '../bootstrap/health.js';
import { meter, tracer } from '../bootstrap/telemetry.js';
import { admissionSettingsOf, type MeshConfig } from '../config/mesh.js';
import { AdmissionController } from '../bootstrap/admission.js';
import { SnapshotSource } from '../data/snapshot-source.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { warmGate } from '../bootstrap/warm-up.js';
import { answerGenerate, warmUp } from './answer.js';
import {
  answerFacts,
  GeneratorServiceDefinition,
  ownBuffer,
  type EncodedGenerateResponse,
  type ReceivedGenerateRequest,
} from './encoded-messages.js';
import { warmUpUsers } from './warm-up-users.js';
import { parseGeneratorSettings, type GeneratorKindName, type GeneratorModule } from './define.js';
import type { GeneratorWorkerPool } from './worker-pool.js';

export interface GeneratorServeOptions {
  /** Where the batch jobs publish snapshots (usually <world>/snapshots). */
  snapshotsDir: string;
  /** Its settings as configured; checked against the module's settings schema before it serves. */
  settings?: Record<string, unknown>;
  pollMs?: number;
  /** The mesh config it is served from, handed to the module's prepare. */
  mesh?: MeshConfig;
  /** Answer from this pool's worker threads when it serves the generator (all-in-one mode). */
  pool?: GeneratorWorkerPool;
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

/** Where a generator's data lives and its calls are answered: this thread, or the worker pool. */
interface GeneratorData {
  /** The snapshot versions and row counts it answers from; undefined until they load. */
  readonly current: { versions: Record<string, string>; rows: Record<string, number> } | undefined;
  readonly error: string | undefined;
  start(pollMs: number): Promise<void>;
  stop(): void;
  /** Decodes, validates and answers a request (INVALID_ARGUMENT for a bad one). */
  answer(
    request: ReceivedGenerateRequest,
    requestId: string,
    signal: AbortSignal,
    deadline: number,
  ): Promise<GenerateResponse | EncodedGenerateResponse>;
  /** Runs the hot path on synthetic viewers (a pool's workers warm up before they report ready). */
  warmUp(): Promise<void>;
}

/** The data loaded and the calls answered on this thread. */
function localData<Data>(
  module: GeneratorModule<Data>,
  settings: Record<string, unknown>,
  options: GeneratorServeOptions,
  onHealth: (serving: boolean) => void,
): GeneratorData & { source: SnapshotSource<Data> } {
  const { prepare } = module;
  // Synthetic viewers from the newest snapshot's ids, for the warm-up before the first SERVING.
  let users: UserContext[] = [];
  const source: SnapshotSource<Data> = new SnapshotSource<Data>(
    {
      name: module.name,
      snapshots: module.snapshots,
      prepare: (rows) => {
        users = warmUpUsers(rows);
        return prepare ? prepare(rows, settings, options.mesh) : (rows as Data);
      },
    },
    options.snapshotsDir,
    onHealth,
  );
  return {
    source,
    get current() {
      return source.current;
    },
    get error() {
      return source.error;
    },
    start: (pollMs) => source.start(pollMs),
    stop: () => source.stop(),
    answer: (request, requestId, signal) => {
      const { user, quota } = request.decoded();
      return answerGenerate(module, source.current!, settings, { user: user!, quota, requestId }, signal);
    },
    warmUp: () => warmUp(module, source.current!.data, settings, users),
  };
}

/** The data loaded and the calls answered by the pool's worker threads. */
function pooledData(pool: GeneratorWorkerPool, name: string, onHealth: (serving: boolean) => void): GeneratorData {
  let unsubscribe = () => {};
  return {
    get current() {
      const s = pool.status(name);
      return s?.ready ? s : undefined;
    },
    get error() {
      return pool.status(name)?.error;
    },
    start: () =>
      new Promise<void>((resolve) => {
        const check = () => {
          const s = pool.status(name);
          onHealth(Boolean(s?.ready));
          if (s) resolve();
        };
        unsubscribe = pool.onStatus(name, check);
        check();
      }),
    stop: () => unsubscribe(),
    answer: (request, requestId, signal, deadline) =>
      pool.generate(name, { request: ownBuffer(request.bytes), requestId, deadline }, signal),
    warmUp: async () => {},
  };
}

/** A generator as a CandidateGenerator service binding plus where its data lives. */
export function generatorBinding<Data>(module: GeneratorModule<Data>, options: GeneratorServeOptions) {
  let onHealth: (serving: boolean) => void = () => {};
  const settings = parseGeneratorSettings(module, options.settings);
  const health = (serving: boolean) => onHealth(serving);
  const local = options.pool?.serves(module.name) ? undefined : localData(module, settings, options, health);
  const data: GeneratorData = local ?? pooledData(options.pool!, module.name, health);
  const faultDelayMs = faultDelayMsOf(settings);

  const binding: ServiceBinding = bindService(GeneratorServiceDefinition, {
    async generate(request, ctx): Promise<GenerateResponse | EncodedGenerateResponse> {
      // A pooled generator's request is decoded and validated in its worker thread, not here.
      if (local) request.decoded();
      if (!data.current)
        throw unavailable(`generator ${module.name} has no data to serve: ${data.error ?? 'snapshots not loaded yet'}`);
      // A call that waited in the queue past its deadline gets no work: under overload, doing it
      // anyway only delays the calls behind it, which then miss their deadlines too.
      if (Date.now() >= ctx.deadline)
        throw deadlineExceeded(`generator ${module.name}: the call's deadline passed before it was served`);
      const started = performance.now();
      // The deadline's abort ends the wait; the server wrapper then answers DEADLINE_EXCEEDED.
      if (faultDelayMs > 0) await sleep(faultDelayMs, undefined, { signal: ctx.signal });
      const span = tracer().startSpan(`generate ${module.name}`, { attributes: { 'feedloom.generator': module.name } });
      try {
        const response = await data.answer(request, ctx.requestId, ctx.signal, ctx.deadline);
        const facts = answerFacts(response);
        span.setAttribute('feedloom.candidates', facts.candidates);
        if (facts.modelVersion) span.setAttribute('feedloom.model_version', facts.modelVersion);
        metrics ??= instruments();
        metrics.duration.record(performance.now() - started, { generator: module.name });
        metrics.candidates.add(facts.candidates, { generator: module.name });
        return response;
      } finally {
        span.end();
      }
    },
    async describe(): Promise<DescribeResponse> {
      const loaded = data.current;
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
    data,
    /** The snapshot source, when the data is loaded on this thread. */
    source: local?.source,
    settings,
    /** Called with the data's readiness whenever it changes. */
    set onHealth(fn: (serving: boolean) => void) {
      onHealth = fn;
    },
  };
}

/**
 * Serves one generator module on its own gRPC server. NOT_SERVING until its snapshots load and a
 * few calls of its generate on synthetic viewers have run (`warming()` resolves then).
 */
export async function serveGenerator<Data>(
  module: GeneratorModule<Data>,
  options: GeneratorServeOptions & { port: number; host?: string },
): Promise<
  RunningServer & {
    source: SnapshotSource<Data> | undefined;
    pool: GeneratorWorkerPool | undefined;
    warming(): Promise<void>;
  }
> {
  const generator = generatorBinding(module, options);
  const name = `generator.${module.name}`;
  // Generate, refused at once when it cannot answer within its deadline behind the calls ahead of
  // it (admission.generate of the mesh config; none without a mesh config).
  const admission = options.mesh && {
    generate: new AdmissionController(
      name,
      'Generate',
      admissionSettingsOf(options.mesh, 'generate'),
      'admission.generate',
    ),
  };
  const server = await startServer({
    name,
    host: options.host,
    port: options.port,
    limits: options.mesh?.serverLimits,
    services: [generator.binding],
    admission,
    security: options.mesh && serverSecurityOf(options.mesh),
  });
  const setHealth = (serving: boolean) => {
    const status = serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    server.health.set('', status);
    server.health.set(SERVICE_NAME, status);
  };
  const gate = warmGate(name, setHealth, () => generator.data.warmUp());
  generator.onHealth = (ready) => gate.update(ready);
  setHealth(false);
  await generator.data.start(options.pollMs ?? 5_000);
  const stop = server.stop;
  return Object.assign(server, {
    source: generator.source,
    pool: options.pool,
    warming: gate.warming,
    stop: (graceMs?: number) => {
      generator.data.stop();
      return stop(graceMs);
    },
  });
}

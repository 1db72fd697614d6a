// Blend latency and throughput under a sustained open-loop load, in either run mode:
//   node --import tsx bench/blend-load.ts [--mode all-in-one|processes] [--rps 50] [--seconds 60] [--runs 3]
// Open loop: requests leave on a fixed schedule whether or not earlier ones returned, so a slow
// mesh shows as latency, not as a politely lower request rate.
import { parseArgs } from 'node:util';
import { BlenderClient, SourceState, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf, metricsEndpointOf } from '../libs/config/mesh.js';
import { startTelemetry } from '../libs/bootstrap/telemetry.js';
import { startAllInOne, startProcesses } from '../services/ops/mesh/run.js';
import {
  freePort,
  median,
  overheadBuckets,
  overheadOf,
  percentile,
  preparedWorldUsers,
  table,
  transportEnv,
  transportNote,
  servingConfig,
  writeSection,
} from './lib.js';
import { sourceFailed } from '../libs/blend/source-state.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/mesh.json' },
    mode: { type: 'string', default: 'all-in-one' },
    rps: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    runs: { type: 'string', default: '3' },
    section: { type: 'string' },
  },
});
const rps = Number(values.rps);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const mode = values.mode as 'all-in-one' | 'processes';

const mesh = servingConfig(values.config!);
// The world, its snapshots and first models, as `make up` prepares them (quick when already there).
const users = await preparedWorldUsers(mesh, 2000);

// The blender's own time comes from its feedloom.blender.overhead histogram (services/blender/
// pipeline.ts), scraped from its Prometheus endpoint: this process's in all-in-one mode, the
// blender process's in process mode.
const metricsPort = await freePort();
const telemetry =
  mode === 'all-in-one'
    ? startTelemetry({ serviceName: 'feedloom.bench', prometheus: { host: '127.0.0.1', port: metricsPort } })
    : undefined;
const blenderEndpoint =
  mode === 'all-in-one'
    ? { host: '127.0.0.1', port: metricsPort }
    : metricsEndpointOf(mesh, mesh.services.blender.port);
const running = mode === 'all-in-one' ? await startAllInOne(mesh) : await startProcesses(mesh, values.config!);
// Over the network, as a feed server would call it: not through the in-process path the mesh uses inside.
const blender = connect(BlenderClient, addressOf(mesh, mesh.services.blender), { inProcess: false });

interface Sample {
  ms: number;
  ok: boolean;
  degraded: boolean;
  ranked: boolean;
  sources: { generator: string; state: SourceState; latencyMs: number }[];
}

async function load(durationS: number, rate: number): Promise<Sample[]> {
  const samples: Promise<Sample>[] = [];
  const start = performance.now();
  for (let i = 0; i < durationS * rate; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    samples.push(
      callUnary(
        blender,
        'blend',
        { userId: users[i % users.length], limit: 50, debug: false, requestId: `bench-${i}` },
        { timeoutMs: 2_000 },
      ).then(
        (r: BlendResponse) => ({
          ms: performance.now() - sent,
          ok: true,
          degraded: r.warnings.length > 0 || r.sources.some(sourceFailed),
          ranked: Boolean(r.ranking?.ranked),
          sources: r.sources.map((s) => ({ generator: s.generator, state: s.state, latencyMs: s.latencyMs })),
        }),
        () => ({ ms: performance.now() - sent, ok: false, degraded: true, ranked: false, sources: [] }),
      ),
    );
  }
  return Promise.all(samples);
}

interface RunResult {
  p50: number;
  p99: number;
  rate: number;
  errors: number;
  degraded: number;
  ranked: number;
  overheadP50: number;
  overheadWithin3: number;
  generators: Map<string, { p50: number; p99: number; notOk: number }>;
}

const results: RunResult[] = [];
try {
  await load(10, rps / 2); // warm-up, not counted
  for (let run = 0; run < runs; run++) {
    const before = await overheadBuckets(blenderEndpoint);
    const started = performance.now();
    const samples = await load(seconds, rps);
    const elapsed = (performance.now() - started) / 1000;
    const ok = samples.filter((s) => s.ok);
    const overhead = overheadOf(before, await overheadBuckets(blenderEndpoint));
    const generators = new Map<string, { p50: number; p99: number; notOk: number }>();
    for (const name of new Set(ok.flatMap((s) => s.sources.map((x) => x.generator)))) {
      const calls = ok.flatMap((s) =>
        s.sources.filter((x) => x.generator === name && x.state !== SourceState.SOURCE_STATE_DISABLED),
      );
      const answered = calls.filter((x) => x.state === SourceState.SOURCE_STATE_OK).map((x) => x.latencyMs);
      generators.set(name, {
        p50: percentile(answered, 50),
        p99: percentile(answered, 99),
        notOk: (calls.length - answered.length) / Math.max(1, calls.length),
      });
    }
    results.push({
      p50: percentile(
        ok.map((s) => s.ms),
        50,
      ),
      p99: percentile(
        ok.map((s) => s.ms),
        99,
      ),
      rate: ok.length / elapsed,
      errors: samples.length - ok.length,
      degraded: samples.filter((s) => s.degraded).length / samples.length,
      ranked: ok.filter((s) => s.ranked).length / Math.max(1, ok.length),
      overheadP50: overhead.p50,
      overheadWithin3: overhead.within3,
      generators,
    });
    const { generators: _g, ...summary } = results[results.length - 1];
    console.log(`run ${run + 1}/${runs}:`, summary);
  }
} finally {
  blender.close();
  await running.stop();
  await telemetry?.shutdown();
}

const m = (k: Exclude<keyof RunResult, 'generators'>) => median(results.map((r) => r[k]));
const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(2));
const command = `${transportEnv}node --import tsx bench/blend-load.ts --mode ${mode} --rps ${rps} --seconds ${seconds} --runs ${runs}${values.section ? ` --section ${values.section}` : ''}`;
const body = [
  `${mesh.generators.filter((g) => g.enabled).length} generators, ${mesh.services.ranker ? 'ranker on' : 'no ranker'}, world \`${mesh.world.preset}\`, ${mode}; open-loop ${rps} requests/s for ${seconds} s, limit 50; medians of ${runs} runs (each run's own percentiles).`,
  '',
  table(
    [
      'mode',
      'Blend p50 ms',
      'Blend p99 ms',
      'completed/s',
      'errors',
      'degraded share',
      'ranked share',
      'blender overhead p50 ms',
      'overhead ≤ 3 ms',
    ],
    [
      [
        mode,
        m('p50'),
        m('p99'),
        m('rate'),
        m('errors'),
        pct(m('degraded')),
        pct(m('ranked')),
        ms(m('overheadP50')),
        pct(m('overheadWithin3')),
      ],
    ],
  ),
  '',
  "Degraded: a response with a warning or any enabled source not OK (late generators are dropped, the page is still served). Ranked: the ranker answered within its deadline. Blender overhead: its own time per request (fan-out, dedupe, filter, pre-score, rank and page composition, minus the waits on the events service, the slowest generator and the ranker), from the blender's `feedloom_blender_overhead` histogram; the p50 is interpolated within its bucket.",
].join('\n');
writeSection(values.section ?? `blend-${mode}`, `Blend under load (${mode}, ${rps}/s${transportNote})`, command, body);
console.log(body);

const names = [...(results[0]?.generators.keys() ?? [])].sort();
const g = (name: string, k: 'p50' | 'p99' | 'notOk') =>
  median(results.map((r) => r.generators.get(name)?.[k] ?? Number.NaN));
const generatorBody = [
  `Each generator's latency as the blender sees it (one Generate call, over gRPC, under the Blend load above: ${rps} requests/s, ${mode}), from every response's per-source status; medians of ${runs} runs. Not OK: late (past its deadline), failed or unavailable.`,
  '',
  table(
    ['generator', 'deadline ms', 'p50 ms', 'p99 ms', 'not OK'],
    names.map((name) => [
      name,
      mesh.generators.find((x) => x.name === name)?.deadlineMs ?? 0,
      ms(g(name, 'p50')),
      ms(g(name, 'p99')),
      pct(g(name, 'notOk')),
    ]),
  ),
].join('\n');
writeSection(`generators-${mode}`, `Generator latency under Blend load (${mode})`, command, generatorBody);
console.log(generatorBody);
process.exit(0);

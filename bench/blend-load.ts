// Blend latency and throughput under a sustained open-loop load, in either run mode:
//   node --import tsx bench/blend-load.ts [--mode all-in-one|processes] [--rps 50] [--seconds 60] [--runs 3]
// Open loop: requests leave on a fixed schedule whether or not earlier ones returned, so a slow
// mesh shows as latency, not as a politely lower request rate.
import { parseArgs } from 'node:util';
import { BlenderClient, SourceState, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf, loadMeshConfig } from '../libs/config/mesh.js';
import { buildWorld } from '../libs/data/build.js';
import { eventsView, openDuck, queryRows } from '../libs/data/duck.js';
import { startAllInOne, startProcesses } from '../services/mesh/run.js';
import { median, percentile, table, writeSection } from './lib.js';

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

const mesh = loadMeshConfig(values.config);
await buildWorld({ preset: mesh.world.preset, seed: mesh.world.seed, dir: mesh.world.dir, log: () => {} });
const duck = await openDuck();
await eventsView(duck.conn, mesh.world.dir);
const users = (await queryRows<{ user_id: string }>(duck.conn, `SELECT DISTINCT user_id FROM events ORDER BY hash(user_id) LIMIT 2000`)).map((r) => r.user_id);
duck.close();

const running = mode === 'all-in-one' ? await startAllInOne(mesh) : await startProcesses(mesh, values.config!);
const blender = connect(BlenderClient, addressOf(mesh, mesh.services.blender));

interface Sample {
  ms: number;
  ok: boolean;
  degraded: boolean;
  overheadMs?: number;
}

/** The blender's own time: every stage but the waits on the events service and the slowest generator. */
function overheadOf(r: BlendResponse): number | undefined {
  if (!r.debug) return undefined;
  const stage = (name: string) => r.debug!.stages.find((s) => s.stage === name)?.ms ?? 0;
  const total = r.debug.stages.reduce((s, x) => s + x.ms, 0);
  const slowest = Math.max(0, ...r.sources.filter((s) => s.state === SourceState.SOURCE_STATE_OK).map((s) => s.latencyMs));
  return total - stage('hydrate') - stage('fan_out') + Math.max(0, stage('fan_out') - slowest);
}

async function load(durationS: number, rate: number): Promise<Sample[]> {
  const samples: Promise<Sample>[] = [];
  const start = performance.now();
  for (let i = 0; i < durationS * rate; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const sent = performance.now();
    const debug = i % 10 === 0;
    samples.push(
      callUnary(blender, 'blend', { userId: users[i % users.length], limit: 50, debug, requestId: `bench-${i}` }, { timeoutMs: 2_000 }).then(
        (r) => ({ ms: performance.now() - sent, ok: true, degraded: r.warnings.length > 0 || r.sources.some((s) => s.state !== SourceState.SOURCE_STATE_OK), overheadMs: overheadOf(r) }),
        () => ({ ms: performance.now() - sent, ok: false, degraded: true }),
      ),
    );
  }
  return Promise.all(samples);
}

const results: { p50: number; p99: number; rate: number; errors: number; degraded: number; overheadP50: number }[] = [];
try {
  await load(10, rps / 2); // warm-up, not counted
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const samples = await load(seconds, rps);
    const elapsed = (performance.now() - started) / 1000;
    const ok = samples.filter((s) => s.ok);
    results.push({
      p50: percentile(ok.map((s) => s.ms), 50),
      p99: percentile(ok.map((s) => s.ms), 99),
      rate: ok.length / elapsed,
      errors: samples.length - ok.length,
      degraded: samples.filter((s) => s.degraded).length / samples.length,
      overheadP50: percentile(samples.flatMap((s) => (s.overheadMs === undefined ? [] : [s.overheadMs])), 50),
    });
    console.log(`run ${run + 1}/${runs}:`, results[results.length - 1]);
  }
} finally {
  blender.close();
  await running.stop();
}

const m = (k: keyof (typeof results)[number]) => median(results.map((r) => r[k]));
const body = [
  `${mesh.generators.filter((g) => g.enabled).length} generators, ${mesh.services.ranker ? 'ranker on' : 'no ranker'}, world \`${mesh.world.preset}\`, ${mode}; open-loop ${rps} requests/s for ${seconds} s, limit 50; medians of ${runs} runs (each run's own percentiles).`,
  '',
  table(
    ['mode', 'Blend p50 ms', 'Blend p99 ms', 'completed/s', 'errors', 'degraded share', 'blender overhead p50 ms'],
    [[mode, m('p50'), m('p99'), m('rate'), m('errors'), `${(100 * m('degraded')).toFixed(1)}%`, m('overheadP50')]],
  ),
  '',
  'Degraded: a response with a warning or any source not OK (late generators are dropped, the page is still served). Blender overhead: stage time minus the waits on the events service and the slowest generator, from the 1-in-10 requests sent with debug.',
].join('\n');
writeSection(values.section ?? `blend-${mode}`, `Blend under load (${mode})`, `node --import tsx bench/blend-load.ts --mode ${mode} --rps ${rps} --seconds ${seconds} --runs ${runs}`, body);
console.log(body);
process.exit(0);

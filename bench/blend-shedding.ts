// Overload protection, measured (issue 15, item 6): an open loop at 0.7× and at 2× the mesh's
// capacity, with shedding on and off (mesh config `admission.enabled`) side by side in one run.
//   node --import tsx bench/blend-shedding.ts [--generator-threads 0] [--seconds 20] [--runs 3] [--deadline-ms 500] [--capacity N | --capacity-per-run] [--doc]
// The mesh runs all-in-one in a child process, as `feedloom up` would; this process is the feed
// service calling it, so the client's own work does not share the mesh's saturated thread.
// Capacity: Blends/s of a closed loop at concurrency 4 with shedding off, measured first in the same
// run (or given with --capacity, or measured again before each run with --capacity-per-run, for a
// machine whose load changes by the minute). Each run starts the mesh once per mode (the order
// alternates between runs), warms it up, then offers 0.7× capacity, then 2×, each for --seconds. Every Blend
// carries the caller's deadline (--deadline-ms): served means answered OK within it.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { status } from '@grpc/grpc-js';
import { BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf, admissionSettingsOf, type MeshConfig } from '../libs/config/mesh.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import {
  closedLoopRate,
  median,
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
    'generator-threads': { type: 'string' },
    seconds: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    'deadline-ms': { type: 'string', default: '500' },
    'capacity-seconds': { type: 'string', default: '15' },
    capacity: { type: 'string' },
    'capacity-per-run': { type: 'boolean', default: false },
    doc: { type: 'boolean', default: false },
    section: { type: 'string' },
    // Internal: serve the mesh in this process with shedding on or off (the child of a run).
    serve: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const deadlineMs = Number(values['deadline-ms']);
const LOADS = [0.7, 2];

const base = servingConfig(values.config!);
if (values['generator-threads'] !== undefined) base.generatorThreads = Number(values['generator-threads']);
const withShedding = (enabled: boolean): MeshConfig => ({ ...base, admission: { ...base.admission, enabled } });

if (values.serve) {
  const running = await startAllInOne(withShedding(values.serve === 'on'));
  // The mesh's own event-loop delay since the last ask (SIGUSR2): what a call waits before any of
  // its handlers, the admission's refusal included, can run.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  process.on('SIGUSR2', () => {
    console.log(JSON.stringify({ event: 'loop', p99: loop.percentile(99) / 1e6 }));
    loop.reset();
  });
  console.log('{"event":"ready"}');
  process.once('SIGTERM', () => void running.stop().then(() => process.exit(0)));
  await new Promise(() => {});
}
const users = await preparedWorldUsers(base, 2000);

type Outcome = 'served' | 'refused' | 'late' | 'failed';
interface Sample {
  ms: number;
  outcome: Outcome;
  degraded: boolean;
}

let next = 0;
async function blend(blender: BlenderClient, timeoutMs: number): Promise<Sample> {
  const sent = performance.now();
  try {
    const r: BlendResponse = await callUnary(
      blender,
      'blend',
      { userId: users[next++ % users.length], limit: 50, debug: false, requestId: '' },
      { timeoutMs },
    );
    const degraded = r.sources.some(sourceFailed);
    const ms = performance.now() - sent;
    // An answer read after the deadline is late, even if this process was too late to time it out.
    return { ms, outcome: ms <= timeoutMs ? 'served' : 'late', degraded };
  } catch (err) {
    const { code, details } = err as { code?: status; details?: string };
    const outcome: Outcome =
      code === status.UNAVAILABLE && /overloaded/.test(details ?? '')
        ? 'refused'
        : code === status.DEADLINE_EXCEEDED
          ? 'late'
          : 'failed';
    return { ms: performance.now() - sent, outcome, degraded: true };
  }
}

/**
 * Requests leave on a fixed schedule whether or not earlier ones returned. Also this process's own
 * event-loop delay (p99, ms): a late client would make the mesh look late, so it is reported.
 */
async function openLoop(blender: BlenderClient, rate: number, durationS: number) {
  const samples: Promise<Sample>[] = [];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const start = performance.now();
  for (let i = 0; i < durationS * rate; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    samples.push(blend(blender, deadlineMs));
  }
  const done = await Promise.all(samples);
  loop.disable();
  return { samples: done, clientLoopP99: loop.percentile(99) / 1e6 };
}

/** Blends/s served by `callers` callers, each sending its next Blend when the last returns. */
const closedLoop = (blender: BlenderClient, callers: number, seconds: number) =>
  closedLoopRate(async () => (await blend(blender, 5_000)).outcome === 'served', callers, seconds);

/** The mesh in a child process, with shedding on or off, for the length of `work`. */
/** The mesh child's event-loop delay p99 (ms) since the last call of it. */
type MeshLoop = () => Promise<number>;

async function withMesh<T>(
  shedding: boolean,
  work: (blender: BlenderClient, meshLoop: MeshLoop) => Promise<T>,
): Promise<T> {
  const args = [
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--config',
    values.config!,
    '--serve',
    shedding ? 'on' : 'off',
  ];
  if (values['generator-threads'] !== undefined) args.push('--generator-threads', values['generator-threads']);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let onLoop = (_p99: number) => {};
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the mesh exited with code ${code} before it was ready`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"ready"')) resolve();
      else if (line.includes('"loop"')) onLoop(JSON.parse(line).p99);
      else console.log(`[mesh] ${line}`);
    });
  });
  const meshLoop: MeshLoop = () =>
    new Promise((resolve) => {
      onLoop = resolve;
      child.kill('SIGUSR2');
    });
  const blender = connect(BlenderClient, addressOf(base, base.services.blender), { inProcess: false });
  try {
    return await work(blender, meshLoop);
  } finally {
    blender.close();
    child.kill('SIGTERM');
    await exited;
  }
}

interface Window {
  offeredPerS: number;
  servedPerS: number;
  ofCapacity: number;
  refusedShare: number;
  refusedP50: number;
  refusedP99: number;
  lateShare: number;
  failedShare: number;
  p50: number;
  p99: number;
  degradedShare: number;
  clientLoopP99: number;
  meshLoopP99: number;
}

function summarize(
  { samples, clientLoopP99 }: { samples: Sample[]; clientLoopP99: number },
  meshLoopP99: number,
  rate: number,
  capacity: number,
): Window {
  const of = (o: Outcome) => samples.filter((s) => s.outcome === o);
  const served = of('served');
  const refused = of('refused').map((s) => s.ms);
  const servedPerS = served.length / seconds;
  return {
    offeredPerS: rate,
    servedPerS,
    ofCapacity: servedPerS / capacity,
    refusedShare: refused.length / samples.length,
    refusedP50: percentile(refused, 50),
    refusedP99: percentile(refused, 99),
    lateShare: of('late').length / samples.length,
    failedShare: of('failed').length / samples.length,
    p50: percentile(
      served.map((s) => s.ms),
      50,
    ),
    p99: percentile(
      served.map((s) => s.ms),
      99,
    ),
    degradedShare: served.filter((s) => s.degraded).length / Math.max(1, served.length),
    clientLoopP99,
    meshLoopP99,
  };
}

const measureCapacity = () =>
  withMesh(false, async (blender) => {
    await closedLoop(blender, 4, 5); // warm-up
    return closedLoop(blender, 4, Number(values['capacity-seconds']));
  });
const perRun = values['capacity-per-run'] && !values.capacity;
let capacity = Number(values.capacity ?? Number.NaN);
if (!(capacity > 0) && !perRun) capacity = await measureCapacity();
const capacities: number[] = [];

const results = new Map<string, Window[]>();
const key = (shedding: boolean, load: number) => `${shedding ? 'on' : 'off'}|${load}`;
for (let run = 0; run < runs; run++) {
  // On a machine whose load changes by the minute, a capacity measured just before its run.
  if (perRun) capacity = await measureCapacity();
  capacities.push(capacity);
  console.log(
    `run ${run + 1}/${runs}: capacity ${capacity.toFixed(1)} Blends/s (closed loop, 4 callers, shedding off)`,
  );
  for (const shedding of run % 2 === 0 ? [true, false] : [false, true]) {
    await withMesh(shedding, async (blender, meshLoop) => {
      await openLoop(blender, capacity * 0.5, 5); // warm-up, not counted
      for (const load of LOADS) {
        await meshLoop(); // from here
        const offered = await openLoop(blender, capacity * load, seconds);
        const w = summarize(offered, await meshLoop(), capacity * load, capacity);
        console.log(`run ${run + 1}/${runs}, shedding ${shedding ? 'on' : 'off'}, ${load}× capacity:`, w);
        results.set(key(shedding, load), [...(results.get(key(shedding, load)) ?? []), w]);
      }
    });
  }
}

const m = (ws: Window[], k: keyof Window) => median(ws.map((w) => w[k]));
const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(1));
const rows = LOADS.flatMap((load) =>
  [true, false].map((shedding) => {
    const ws = results.get(key(shedding, load)) ?? [];
    return [
      `${load}×`,
      shedding ? 'on' : 'off',
      ms(m(ws, 'offeredPerS')),
      ms(m(ws, 'servedPerS')),
      pct(m(ws, 'ofCapacity')),
      pct(m(ws, 'refusedShare')),
      `${ms(m(ws, 'refusedP50'))} / ${ms(m(ws, 'refusedP99'))}`,
      pct(m(ws, 'lateShare') + m(ws, 'failedShare')),
      ms(m(ws, 'p50')),
      ms(m(ws, 'p99')),
      pct(m(ws, 'degradedShare')),
      ms(m(ws, 'meshLoopP99')),
      ms(m(ws, 'clientLoopP99')),
    ];
  }),
);
const threads = base.generatorThreads;
const blendAdmission = admissionSettingsOf(base, 'blend'); // all-in-one
const generateAdmission = admissionSettingsOf(base, 'generate');
const command = `${transportEnv}node --import tsx bench/blend-shedding.ts${values.config !== 'config/mesh.json' ? ` --config ${values.config}` : ''}${values['generator-threads'] !== undefined ? ` --generator-threads ${threads}` : ''} --seconds ${seconds} --runs ${runs} --deadline-ms ${deadlineMs}${values.capacity ? ` --capacity ${values.capacity}` : ''}${perRun ? ' --capacity-per-run' : ''} --doc${values.section ? ` --section ${values.section}` : ''}`;
const body = [
  `All-in-one (${base.generators.filter((g) => g.enabled).length} generators, ${base.services.ranker ? 'ranker on' : 'no ranker'}, world \`${base.world.preset}\`, generatorThreads ${threads}), in a child process; the load client in the benchmark's process, calling over loopback gRPC. Capacity ${perRun ? `measured before each run (${capacities.map((c) => c.toFixed(1)).join(', ')} Blends/s)` : `${capacity.toFixed(1)} Blends/s, measured first in this run`}: a closed loop of 4 callers with shedding off. Then, per run and per mode (the mesh restarted with \`admission.enabled\` on or off, the order alternating), open loop at 0.7× and 2× that rate for ${seconds} s each; every Blend with a ${deadlineMs} ms deadline. Medians of ${runs} runs; admission settings: Blend ${blendAdmission.concurrency} at once, queue ≤ ${blendAdmission.maxQueued ?? blendAdmission.concurrency} calls and ${blendAdmission.maxQueueMs} ms; Generate ${generateAdmission.concurrency} at once, queue ≤ ${generateAdmission.maxQueued ?? generateAdmission.concurrency} calls and ${generateAdmission.maxQueueMs} ms.`,
  '',
  table(
    [
      'load',
      'shedding',
      'offered/s',
      'served in time/s',
      'served / capacity',
      'refused',
      'refusal p50 / p99 ms',
      'late or failed',
      'served p50 ms',
      'served p99 ms',
      'served degraded',
      'mesh loop delay p99 ms',
      'client loop delay p99 ms',
    ],
    rows,
  ),
  '',
  'Served: answered OK within the deadline. Refused: UNAVAILABLE "overloaded" from the admission controller. Late or failed: DEADLINE_EXCEEDED at the caller, or any other error. Degraded: a served Blend with any enabled source not OK (late, refused or failed generators are dropped, the page is still served). Loop delay: the event-loop delay, p99, while the load was offered, of the main thread of the mesh (a call, its refusal included, waits about that long before any handler runs) and of the benchmark process itself (a late client would make the mesh look late).',
].join('\n');
if (values.doc)
  writeSection(
    values.section ?? `blend-shedding-threads-${threads}`,
    `Overload: shedding on and off at 0.7× and 2× capacity (all-in-one, generatorThreads ${threads}${transportNote})`,
    command,
    body,
  );
console.log(body);
process.exit(0);

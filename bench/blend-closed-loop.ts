// Blend cost per request with nothing queued: one request at a time (closed loop, concurrency 1 by
// default) against an all-in-one mesh, so each request's latency is its own work plus the
// generators', not time waiting behind others. For profiling (run under `node --cpu-prof`):
//   node --import tsx bench/blend-closed-loop.ts [--seconds 20] [--runs 1] [--concurrency 1] [--generator-threads 0] [--profile out.cpuprofile] [--doc]
// cpuMsPerBlend is the whole process's CPU time (every thread) per Blend: on a shared machine it
// says more than the latency does. mainThreadCpuMsPerBlend is the main thread's share of it. --profile writes a CPU profile of the measured window only (not start-up or warm-up).
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf } from '../libs/config/mesh.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { startTelemetry } from '../libs/bootstrap/telemetry.js';
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
    seconds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '1' },
    profile: { type: 'string' },
    runs: { type: 'string', default: '1' },
    // Every deadline (generators, fan-out, hydrate, ranker) set to this many ms, e.g. 2000: to
    // measure the work of a Blend in which every source answers, whatever the machine's load.
    deadlines: { type: 'string' },
    // Generators on this many worker threads (mesh.generatorThreads), e.g. 0 against 1.
    'generator-threads': { type: 'string' },
    doc: { type: 'boolean', default: false },
    section: { type: 'string' },
  },
});
const mesh = servingConfig(values.config!);
if (values.deadlines) {
  const ms = Number(values.deadlines);
  for (const g of mesh.generators) g.deadlineMs = ms;
  mesh.services.blender.fanoutDeadlineMs = ms;
  mesh.services.blender.hydrateDeadlineMs = ms;
  if (mesh.services.ranker) mesh.services.ranker.deadlineMs = ms;
}
if (values['generator-threads'] !== undefined) mesh.generatorThreads = Number(values['generator-threads']);
const users = await preparedWorldUsers(mesh, 2000);
const metricsPort = await freePort();
const telemetry = startTelemetry({
  serviceName: 'feedloom.bench',
  prometheus: { host: '127.0.0.1', port: metricsPort },
});
const metricsAt = { host: '127.0.0.1', port: metricsPort };
let t = performance.now();
const running = await startAllInOne(mesh);
console.log(`mesh started in ${((performance.now() - t) / 1000).toFixed(1)} s`);
// Over the network, as a feed server would call it: not through the in-process path the mesh uses inside.
const blender = connect(BlenderClient, addressOf(mesh, mesh.services.blender), { inProcess: false });
let i = 0;
interface Window {
  requests: number;
  cpuMsPerBlend: number;
  mainThreadCpuMsPerBlend: number;
  perSecond: number;
  p50: number;
  p99: number;
  notOkShare: number;
  unrankedShare: number;
  overheadP50: number;
}
const sources = mesh.generators.filter((g) => g.enabled).length;
/** The main thread's own CPU time (Linux: its /proc task's utime + stime, in 10 ms ticks): with
 * generator worker threads, the main thread is what bounds Blends/s. */
function mainThreadCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
async function measure(seconds: number): Promise<Window> {
  const latencies: number[] = [];
  let notOk = 0;
  let unranked = 0;
  const loop = async (until: number) => {
    while (performance.now() < until) {
      const sent = performance.now();
      const r = await callUnary(
        blender,
        'blend',
        { userId: users[i++ % users.length], limit: 50, debug: false, requestId: '' },
        { timeoutMs: 5_000 },
      );
      latencies.push(performance.now() - sent);
      if (!r.ranking?.ranked) unranked++;
      notOk += r.sources.filter(sourceFailed).length;
    }
  };
  const buckets0 = await overheadBuckets(metricsAt);
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Number(values.concurrency) }, () => loop(t0 + seconds * 1000)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const n = latencies.length;
  return {
    requests: n,
    cpuMsPerBlend: (cpu.user + cpu.system) / 1000 / n,
    mainThreadCpuMsPerBlend: (mainThreadCpuMs() - main0) / n,
    perSecond: n / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    notOkShare: notOk / (n * sources),
    unrankedShare: unranked / n,
    overheadP50: overheadOf(buckets0, await overheadBuckets(metricsAt)).p50,
  };
}

await measure(5); // warm-up
// A marker for logs read beside the run (e.g. node --trace-gc: the GCs of the measured windows follow it).
console.log('warm-up done: measuring');
const session = values.profile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
const windows: Window[] = [];
for (let run = 0; run < Number(values.runs); run++) {
  windows.push(await measure(Number(values.seconds)));
  console.log(`run ${run + 1}/${values.runs}:`, windows[windows.length - 1]);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
}
blender.close();
await running.stop();
await telemetry.shutdown();

const m = (k: keyof Window) => median(windows.map((w) => w[k]));
const body = [
  `Every server in one process (all-in-one, ${sources} generators, ${mesh.services.ranker ? 'ranker on' : 'no ranker'}, world \`${mesh.world.preset}\`), ${values.concurrency} caller(s) each sending its next Blend when the last returns, ${values.seconds} s per run; medians of ${values.runs} runs. CPU per Blend is the process's CPU time (all threads) over the run divided by the Blends served: it bounds the sustainable rate of one process (about 1000 / CPU ms per core) and is less disturbed by other load on the machine than the latencies are.`,
  '',
  table(
    [
      'deadlines',
      'CPU ms per Blend',
      'main thread CPU ms per Blend',
      'Blends/s',
      'p50 ms',
      'p99 ms',
      'sources not OK',
      'not ranked',
      'blender overhead p50 ms',
    ],
    [
      [
        values.deadlines ? `all ${values.deadlines} ms` : 'as configured',
        m('cpuMsPerBlend'),
        m('mainThreadCpuMsPerBlend'),
        m('perSecond'),
        m('p50'),
        m('p99'),
        `${(100 * m('notOkShare')).toFixed(1)}%`,
        `${(100 * m('unrankedShare')).toFixed(1)}%`,
        m('overheadP50'),
      ],
    ],
  ),
].join('\n');
if (values.doc)
  writeSection(
    values.section ?? (values.deadlines ? 'blend-cost-all-sources' : 'blend-cost'),
    `Blend cost per request (all-in-one, closed loop${values.deadlines ? ', every source answering' : ''}${transportNote})`,
    `${transportEnv}node --import tsx bench/blend-closed-loop.ts --seconds ${values.seconds} --runs ${values.runs} --concurrency ${values.concurrency}${values.deadlines ? ` --deadlines ${values.deadlines}` : ''} --doc${values.section ? ` --section ${values.section}` : ''}`,
    body,
  );
console.log(body);
process.exit(0);

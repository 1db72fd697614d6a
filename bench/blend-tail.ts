// Where a Blend's tail comes from: an open loop below capacity, with the main thread's garbage
// collections, event-loop stalls and old-space growth beside the latencies, each run in a fresh
// process (V8 decides some things early in a run and keeps them):
//   node --import tsx bench/blend-tail.ts [--load 0.7 | --rps N] [--seconds 30] [--runs 3] [--v8=--flag] [--section id]
// --load: each run first measures the process's capacity (a closed loop of 4 callers, as
// bench/blend-shedding.ts does) and offers that fraction of it; --rps offers a fixed rate instead.
// --v8 sets V8 flags in each run before the mesh starts (an A/B of a GC setting without a commit).
// Every run prints its slowest Blends with the GCs and stalls that overlapped them.
import { spawnSync } from 'node:child_process';
import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf } from '../libs/config/mesh.js';
import { sourceFailed } from '../libs/blend/source-state.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { closedLoopRate, median, percentile, preparedWorldUsers, servingConfig, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/mesh.json' },
    load: { type: 'string', default: '0.7' },
    rps: { type: 'string' },
    'capacity-seconds': { type: 'string', default: '15' },
    seconds: { type: 'string', default: '30' },
    warm: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    v8: { type: 'string', default: '' },
    section: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const load = Number(values.load);
const seconds = Number(values.seconds);

/** One run's figures: what the parent collects from each child. */
interface TailRun {
  /** Blends/s of a closed loop of 4 callers, measured first (null with --rps). */
  capacity: number | null;
  /** The open loop's rate. */
  rps: number;
  /** The main thread's event-loop utilization over the measured window. */
  mainElu: number;
  blends: number;
  failed: number;
  /** Blends with a source that did not answer OK, or not ranked. */
  degraded: number;
  p50: number;
  p99: number;
  /** Main-thread GCs in the measured window, by kind. */
  gc: Record<'scavenge' | 'markCompact' | 'incremental' | 'weak', { n: number; ms: number; maxMs: number }>;
  /** Mean rise of the old space between 1 s samples, counting only rises (a Mark-Compact's fall is not subtracted). */
  oldGrowthMbPerS: number;
  oldMaxMb: number;
  /**
   * The same for V8's external memory (ArrayBuffer backing stores, Node Buffers and those moved in
   * from worker threads): V8 starts a Mark-Compact when it has grown 64 MB since the last one,
   * whatever the old space holds.
   */
  externalGrowthMbPerS: number;
  externalMaxMb: number;
  /** Event-loop stalls longer than 25 ms (a 2 ms timer that fired late). */
  stalls25: number;
  /** Of the slowest 1% of Blends, the share that overlapped a Mark-Compact or began within 300 ms after one. */
  slowNearMarkCompact: number;
}

const GC_KIND: Record<number, keyof TailRun['gc']> = { 1: 'scavenge', 4: 'markCompact', 8: 'incremental', 16: 'weak' };

async function oneRun(): Promise<TailRun> {
  if (values.v8) setFlagsFromString(values.v8);
  const mesh = servingConfig(values.config!);
  const users = await preparedWorldUsers(mesh, 2000);
  const running = await startAllInOne(mesh);
  const blender = connect(BlenderClient, addressOf(mesh, mesh.services.blender), { inProcess: false });

  const gcs: { t: number; d: number; kind: number }[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcs.push({
        t: e.startTime,
        d: e.duration,
        kind: (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0,
      });
  }).observe({ entryTypes: ['gc'] });
  const stalls: { t: number; d: number }[] = [];
  let tick = performance.now();
  const stallTimer = setInterval(() => {
    const now = performance.now();
    if (now - tick > 25) stalls.push({ t: tick, d: now - tick });
    tick = now;
  }, 2);

  interface Sent {
    sent: number;
    ms: number;
    ok: boolean;
    degraded: boolean;
  }
  const blend = (i: number, requestId: string, timeoutMs: number) =>
    callUnary(blender, 'blend', { userId: users[i % users.length], limit: 50, debug: false, requestId }, { timeoutMs });
  const openLoop = async (duration: number, rate: number): Promise<Sent[]> => {
    const out: Promise<Sent>[] = [];
    const start = performance.now();
    for (let i = 0; i < duration * rate; i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now();
      out.push(
        blend(i, `tail-${i}`, 2000).then(
          (r) => ({
            sent,
            ms: performance.now() - sent,
            ok: true,
            degraded: !r.ranking?.ranked || r.sources.some(sourceFailed),
          }),
          () => ({ sent, ms: performance.now() - sent, ok: false, degraded: true }),
        ),
      );
    }
    return Promise.all(out);
  };

  let capacity: number | null = null;
  if (!values.rps) {
    let next = 0;
    const served = () =>
      blend(next++, '', 5000).then(
        () => true,
        () => false,
      );
    await closedLoopRate(served, 4, 5); // warm-up
    capacity = await closedLoopRate(served, 4, Number(values['capacity-seconds']));
  }
  const rps = capacity === null ? Number(values.rps) : capacity * load;
  await openLoop(Number(values.warm), rps / 2);
  gcs.length = 0;
  stalls.length = 0;
  const old: number[] = [];
  const external: number[] = [];
  const oldTimer = setInterval(() => {
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    old.push((space?.space_used_size ?? 0) / 1e6);
    external.push(getHeapStatistics().external_memory / 1e6);
  }, 1000);
  const elu = performance.eventLoopUtilization();
  const blends = await openLoop(seconds, rps);
  const mainElu = performance.eventLoopUtilization(elu).utilization;
  clearInterval(oldTimer);
  clearInterval(stallTimer);

  const gc: TailRun['gc'] = {
    scavenge: { n: 0, ms: 0, maxMs: 0 },
    markCompact: { n: 0, ms: 0, maxMs: 0 },
    incremental: { n: 0, ms: 0, maxMs: 0 },
    weak: { n: 0, ms: 0, maxMs: 0 },
  };
  for (const g of gcs) {
    const k = gc[GC_KIND[g.kind] ?? 'weak'];
    k.n++;
    k.ms += g.d;
    k.maxMs = Math.max(k.maxMs, g.d);
  }
  const riseRate = (xs: number[]) =>
    xs
      .slice(1)
      .map((v, i) => Math.max(0, v - xs[i]))
      .reduce((a, b) => a + b, 0) / Math.max(1, xs.length - 1);
  const ms = blends.map((b) => b.ms);
  const p99 = percentile(ms, 99);
  const majors = gcs.filter((g) => g.kind === 4);
  const slowest = [...blends].sort((a, b) => b.ms - a.ms).slice(0, Math.max(1, Math.ceil(blends.length / 100)));
  const nearMajor = (b: Sent) => majors.some((g) => g.t < b.sent + b.ms && g.t + g.d + 300 > b.sent);
  console.log('slowest Blends (s into the window, ms, GCs and stalls meanwhile):');
  const t0 = blends[0]?.sent ?? 0;
  for (const b of slowest.sort((x, y) => x.sent - y.sent)) {
    const during = <T extends { t: number; d: number }>(xs: T[]) =>
      xs.filter((x) => x.t < b.sent + b.ms && x.t + x.d > b.sent);
    const gcText = during(gcs).map((g) => `${GC_KIND[g.kind] ?? g.kind} ${g.d.toFixed(1)}`);
    const stallText = during(stalls).map((s) => s.d.toFixed(0));
    console.log(
      `  ${((b.sent - t0) / 1000).toFixed(2)} s  ${b.ms.toFixed(0)} ms  gc [${gcText.join(', ')}]  stalls [${stallText.join(', ')}]`,
    );
  }
  blender.close();
  await running.stop();
  return {
    capacity,
    rps,
    mainElu,
    blends: blends.length,
    failed: blends.filter((b) => !b.ok).length,
    degraded: blends.filter((b) => b.degraded).length,
    p50: percentile(ms, 50),
    p99,
    gc,
    oldGrowthMbPerS: riseRate(old),
    externalGrowthMbPerS: riseRate(external),
    externalMaxMb: Math.max(0, ...external),
    oldMaxMb: Math.max(0, ...old),
    stalls25: stalls.length,
    slowNearMarkCompact: slowest.filter(nearMajor).length / slowest.length,
  };
}

const RESULT = 'tail-run: ';
if (values.child) {
  const run = await oneRun();
  console.log(RESULT + JSON.stringify(run));
  process.exit(0);
}

const runs: TailRun[] = [];
const childArgs = process.argv.slice(2).filter((a, i, all) => a !== '--section' && all[i - 1] !== '--section');
for (let r = 1; r <= Number(values.runs); r++) {
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...childArgs, '--child'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT));
  if (!line) throw new Error(`run ${r} printed no result (exit ${child.status}):\n${child.stdout.slice(-4000)}`);
  process.stdout.write(
    child.stdout
      .split('\n')
      .filter((l) => !l.startsWith(RESULT))
      .join('\n'),
  );
  const run = JSON.parse(line.slice(RESULT.length)) as TailRun;
  runs.push(run);
  console.log(
    `run ${r}: ${run.capacity === null ? '' : `capacity ${run.capacity.toFixed(1)}/s, `}offered ${run.rps.toFixed(1)}/s, main thread ${Math.round(100 * run.mainElu)}% busy, p50 ${run.p50.toFixed(1)} ms, p99 ${run.p99.toFixed(1)} ms (${(run.p99 / run.p50).toFixed(2)}×), ` +
      `Mark-Compacts ${run.gc.markCompact.n} (max ${run.gc.markCompact.maxMs.toFixed(0)} ms), ` +
      `old space +${run.oldGrowthMbPerS.toFixed(1)} MB/s (max ${run.oldMaxMb.toFixed(0)} MB), ` +
      `external memory +${run.externalGrowthMbPerS.toFixed(1)} MB/s (max ${run.externalMaxMb.toFixed(0)} MB)`,
  );
}

const rows = runs.map((r, i) => [
  i + 1,
  `${r.capacity === null ? '—' : r.capacity.toFixed(1)} / ${r.rps.toFixed(1)}`,
  `${Math.round(100 * r.mainElu)}%`,
  `${r.blends} / ${r.failed} / ${r.degraded}`,
  r.p50.toFixed(1),
  r.p99.toFixed(1),
  `${(r.p99 / r.p50).toFixed(2)}×`,
  `${r.gc.markCompact.n} / ${r.gc.markCompact.ms.toFixed(0)} / ${r.gc.markCompact.maxMs.toFixed(0)}`,
  `${r.gc.scavenge.n} / ${r.gc.scavenge.ms.toFixed(0)}`,
  r.oldGrowthMbPerS.toFixed(1),
  r.oldMaxMb.toFixed(0),
  `${r.externalGrowthMbPerS.toFixed(1)} / ${r.externalMaxMb.toFixed(0)}`,
  r.stalls25,
  `${Math.round(100 * r.slowNearMarkCompact)}%`,
]);
const med = (f: (r: TailRun) => number) => median(runs.map(f));
rows.push([
  'median',
  `${runs[0].capacity === null ? '—' : med((r) => r.capacity!).toFixed(1)} / ${med((r) => r.rps).toFixed(1)}`,
  `${Math.round(100 * med((r) => r.mainElu))}%`,
  '',
  med((r) => r.p50).toFixed(1),
  med((r) => r.p99).toFixed(1),
  `**${med((r) => r.p99 / r.p50).toFixed(2)}×**`,
  `${med((r) => r.gc.markCompact.n)} / ${med((r) => r.gc.markCompact.ms).toFixed(0)} / ${med((r) => r.gc.markCompact.maxMs).toFixed(0)}`,
  `${med((r) => r.gc.scavenge.n)} / ${med((r) => r.gc.scavenge.ms).toFixed(0)}`,
  med((r) => r.oldGrowthMbPerS).toFixed(1),
  med((r) => r.oldMaxMb).toFixed(0),
  `${med((r) => r.externalGrowthMbPerS).toFixed(1)} / ${med((r) => r.externalMaxMb).toFixed(0)}`,
  med((r) => r.stalls25),
  `${Math.round(100 * med((r) => r.slowNearMarkCompact))}%`,
]);
const report = table(
  [
    'run',
    'capacity / offered Blends/s',
    'main thread busy',
    'Blends / failed / degraded',
    'p50 ms',
    'p99 ms',
    'p99 ÷ p50',
    'Mark-Compacts n / ms / max ms',
    'scavenges n / ms',
    'old space MB/s',
    'old max MB',
    'external memory MB/s / max MB',
    'stalls > 25 ms',
    'slowest 1% near a Mark-Compact',
  ],
  rows,
);
console.log(report);
if (values.section) {
  const command = `node --import tsx bench/blend-tail.ts ${childArgs.join(' ')} --section ${values.section}`;
  writeSection(
    values.section,
    `Blend tail at ${values.rps ? `${values.rps}/s` : `${load} × capacity`} open loop, main-thread GC beside it${values.v8 ? ` (${values.v8})` : ''}`,
    command,
    `${runs.length} runs, each a fresh all-in-one process${values.rps ? '' : ` that first measures its capacity (a closed loop of 4 callers for ${values['capacity-seconds']} s, the load client in the same process) and then offers ${load} × it`}, ${seconds} s measured after ${values.warm} s at half the rate. ` +
      `Main thread busy: its event-loop utilization over the measured window. ` +
      `Target (issue 15): p99 ≤ 2 × p50 at 0.7 × capacity.\n\n${report}`,
  );
}
process.exit(0);

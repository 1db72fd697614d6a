// Each generator on its own: Generate called one at a time (nothing queued) with real hydrated user
// contexts, in an all-in-one mesh of the config's world. Latency p50/p99 per generator, and the CPU
// the process spent per call (both sides of the call, made in-process as the blender makes it in
// all-in-one mode, plus the generator's work, and for learned generators their viewer and ANN
// calls): the CPU column adds up to what one Blend's fan-out costs, and is less disturbed by other
// load on the machine than the latencies are. FEEDLOOM_IN_PROCESS_CALLS=0 measures loopback gRPC.
//   node --import tsx bench/generator-latency.ts [--calls 200] [--runs 3] [--only a,b] [--doc]
import { parseArgs } from 'node:util';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { addressOf } from '../libs/config/mesh.js';
import { meshChannelOf } from '../libs/bootstrap/mesh-security.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { median, percentile, preparedWorldUsers, servingConfig, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/mesh.json' },
    calls: { type: 'string', default: '200' },
    runs: { type: 'string', default: '3' },
    doc: { type: 'boolean', default: false },
    // Comma-separated generator names: measure only these (e.g. the ones a change touches).
    only: { type: 'string' },
  },
});
const only = values.only ? new Set(values.only.split(',')) : undefined;
const calls = Number(values.calls);
const runs = Number(values.runs);
const mesh = servingConfig(values.config!);
const userIds = await preparedWorldUsers(mesh, calls);

const running = await startAllInOne(mesh);
const events = connect(EventsClient, addressOf(mesh, mesh.services.events), meshChannelOf(mesh));
const users: UserContext[] = [];
for (const userId of userIds)
  users.push(await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, { timeoutMs: 10_000 }));
events.close();

interface Row {
  p50: number;
  p99: number;
  cpuMs: number;
  candidates: number;
}
const rows = new Map<string, Row[]>();
try {
  for (const g of mesh.generators.filter((x) => x.enabled && (!only || only.has(x.name)))) {
    const client = connect(CandidateGeneratorClient, addressOf(mesh, g));
    for (let i = 0; i < 20; i++)
      await callUnary(
        client,
        'generate',
        { user: users[i % users.length], quota: g.quota, requestId: '' },
        { timeoutMs: 10_000 },
      ); // warm-up
    for (let run = 0; run < runs; run++) {
      const times: number[] = [];
      let candidates = 0;
      const cpu0 = process.cpuUsage();
      for (const user of users) {
        const sent = performance.now();
        const r = await callUnary(client, 'generate', { user, quota: g.quota, requestId: '' }, { timeoutMs: 10_000 });
        times.push(performance.now() - sent);
        candidates += r.candidates.length;
      }
      const cpu = process.cpuUsage(cpu0);
      rows.set(g.name, [
        ...(rows.get(g.name) ?? []),
        {
          p50: percentile(times, 50),
          p99: percentile(times, 99),
          cpuMs: (cpu.user + cpu.system) / 1000 / users.length,
          candidates: candidates / users.length,
        },
      ]);
    }
    const last = rows.get(g.name)!;
    console.log(
      `${g.name}: p50 ${median(last.map((r) => r.p50)).toFixed(2)} ms, CPU ${median(last.map((r) => r.cpuMs)).toFixed(2)} ms per call`,
    );
    client.close();
  }
} finally {
  await running.stop();
}

const m = (name: string, k: keyof Row) => median(rows.get(name)!.map((r) => r[k]));
const names = [...rows.keys()].sort((a, b) => m(b, 'cpuMs') - m(a, 'cpuMs'));
const totalCpu = names.reduce((sum, n) => sum + m(n, 'cpuMs'), 0);
const body = [
  `Each enabled generator of \`${values.config}\` (world \`${mesh.world.preset}\`, all-in-one), called alone and one call at a time with ${users.length} real hydrated user contexts at its configured quota; medians of ${runs} runs. CPU: the process's CPU time (all threads) per call; the ${names.length} generators add up to ${totalCpu.toFixed(1)} ms of CPU per Blend fan-out.`,
  '',
  table(
    ['generator', 'deadline ms', 'quota', 'candidates', 'p50 ms', 'p99 ms', 'CPU ms per call'],
    names.map((name) => {
      const g = mesh.generators.find((x) => x.name === name)!;
      return [
        name,
        g.deadlineMs,
        g.quota,
        Math.round(m(name, 'candidates')),
        m(name, 'p50'),
        m(name, 'p99'),
        m(name, 'cpuMs'),
      ];
    }),
  ),
].join('\n');
if (values.doc)
  writeSection(
    'generators',
    'Latency of each generator (one call at a time)',
    `node --import tsx bench/generator-latency.ts --calls ${calls} --runs ${runs} --doc`,
    body,
  );
console.log(body);
process.exit(0);

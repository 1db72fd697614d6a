// The hostile-client soak (issue 16, item 3): one process per service, as deployed, on a prepared
// tiny world of its own; every attack of the security audit in a loop for 60 s while well-behaved
// Blends flow at 10/s with 5 s deadlines. Reports, per process, the highest RSS during a 20 s warm-up
// round of the same attacks and the median RSS of the last 10 s, whether any process restarted, and the Blend success rate, beside
// the same Blends with no attacker right after (what the machine serves at that rate anyway).
//   node --import tsx bench/hostile-soak.ts [--seconds 60] [--rate 10] [--doc]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMeshConfig, parseMeshConfig } from '../libs/config/mesh.js';
import { startProcesses } from '../services/ops/mesh/run.js';
import {
  runHostileSoak,
  SOAK_MAX_IDS,
  soakMesh,
  soakTargets,
  soakWithMemory,
} from '../services/ops/soak/hostile-clients.js';
import { preparedWorldUsers, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '10' },
    doc: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);

const root = mkdtempSync(join(tmpdir(), 'feedloom-hostile-soak-'));
try {
  const raw = JSON.parse(JSON.stringify(loadMeshConfig('config/mesh.json')));
  raw.world = { ...raw.world, preset: 'tiny', seed: 11, dir: join(root, 'world') };
  // Ports clear of a running `make up` (+8000), no scheduled jobs, no metrics endpoints.
  for (const s of Object.values(raw.services) as { port: number }[]) s.port += 8000;
  for (const g of raw.generators) g.port += 8000;
  for (const h of raw.ann?.hosts ?? []) h.port += 8000;
  raw.telemetry = { metricsPortOffset: 0 };
  raw.schedule = { batch: { enabled: false }, compaction: { enabled: false }, retrain: { enabled: false } };
  soakMesh(raw);
  raw.services.events.maxIds = SOAK_MAX_IDS;
  const configPath = join(root, 'mesh.json');
  writeFileSync(configPath, JSON.stringify(raw, null, 2));
  const mesh = parseMeshConfig(raw, configPath);
  const users = await preparedWorldUsers(mesh, 50);
  const running = await startProcesses(mesh, configPath);
  try {
    const targets = soakTargets(running.addresses);
    const pids = new Map([...running.children].map(([name, child]) => [name, child.pid!] as const));
    const { warm, report, growth } = await soakWithMemory(targets, pids, {
      seconds,
      blendRate: rate,
      users,
      warmSeconds: 20,
      lastSeconds: 10,
    });
    const rows = growth.map((g) => {
      const child = running.children.get(g.process)!;
      const exited = child.exitCode ?? child.signalCode;
      return [
        g.process,
        g.startMb.toFixed(0),
        g.endMb.toFixed(0),
        (g.endMb - g.startMb).toFixed(0),
        exited === null ? 'no' : `yes (${exited})`,
      ];
    });
    // The same Blends without attackers, right after: what this machine serves at this rate anyway.
    const alone = (await runHostileSoak(targets, { seconds, blendRate: rate, users, attackLoops: 0 })).blends;
    const b = report.blends;
    const attackRows = Object.entries(report.attacks).map(([name, t]) => [
      name,
      t.calls,
      Object.entries(t.answers)
        .map(([code, n]) => `${code} ${n}`)
        .join(', '),
    ]);
    const body = [
      `One process per service (events, blender, viewer, two ANN hosts, popular, item_cooccurrence, two_tower, the status page), a prepared \`tiny\` world of its own, \`services.events.maxIds\` ${SOAK_MAX_IDS} (reached by the new-ids attack within the warm-up; the default, 5,000,000, lets that attack grow the events service by about 2 KB a new id until it is reached). A 20 s warm-up round of the same soak first (${warm.blends.withItems} of ${warm.blends.sent} Blends with items), then ${seconds} s: well-behaved Blends at ${rate}/s (5 s deadline) and every attack below looping, one call at a time each.`,
      '',
      `**Blends: ${b.withItems} of ${b.sent} answered with items** (${((100 * b.withItems) / b.sent).toFixed(1)}%); empty ${b.empty}${
        b.empty ? ` (the first: ${b.samples.EMPTY})` : ''
      }; failed ${b.failed}${
        b.failed
          ? ` (${Object.entries(b.failures)
              .map(([c, n]) => `${c} ${n}`)
              .join(', ')}; e.g. "${Object.entries(b.samples).find(([k]) => k !== 'EMPTY')?.[1]}")`
          : ''
      }.`,
      `The same ${seconds} s of Blends with no attacker, right after: ${alone.withItems} of ${alone.sent} with items (${((100 * alone.withItems) / alone.sent).toFixed(1)}%).`,
      '',
      table(
        ['process', 'RSS, highest in the warm-up (MB)', 'RSS, median of the last 10 s (MB)', 'grew (MB)', 'restarted'],
        rows,
      ),
      '',
      table(['attack', 'calls', 'answers'], attackRows),
    ].join('\n');
    console.log(body);
    if (values.doc)
      writeSection(
        'hostile-soak',
        'Hostile clients while Blends flow (issue 16, item 3)',
        `node --import tsx bench/hostile-soak.ts --seconds ${seconds} --rate ${rate} --doc`,
        body,
      );
  } finally {
    await running.stop();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

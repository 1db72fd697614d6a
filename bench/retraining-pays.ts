// Does retraining pay? The same seeded live simulation (`simulate --live`) runs twice, each on its
// own copy of the same prepared world and its own all-in-one mesh with the scheduler: once with
// retraining cycles (and their rollout) on, once with them off. Batch jobs and compaction run in
// both. Per simulated day it records the engagement rate and the versions that served, and writes
// both to docs/RETRAINING.md (command, machine, date, commit).
//   node --import tsx bench/retraining-pays.ts [--preset tiny] [--days 6] [--new-days 0] [--speed 1440]
//     [--users N] [--rate R] [--seed 3] [--keep] [--doc]
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMeshConfig, parseMeshConfig } from '../libs/config/mesh.js';
import { presetByName, simulateWorld } from '../libs/data/simulator/index.js';
import { parseNovelty } from '../libs/data/simulator/model.js';
import { DAY_MS, dayKey, readWorldManifest, worldPaths, writeWorldManifest } from '../libs/data/world.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { prepareWorld } from '../services/offline/trainer/prepare-world.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { formatSchedule, readScheduleStatus } from '../services/ops/scheduler/state.js';
import { formatDay, formatDayHeader, type DayStats } from '../services/ops/simulate/daily-stats.js';
import { runLiveSimulation } from '../services/ops/simulate/live.js';
import { freePort, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    'world-seed': { type: 'string', default: '11' },
    days: { type: 'string', default: '6' },
    speed: { type: 'string', default: '1440' },
    users: { type: 'string' },
    rate: { type: 'string' },
    seed: { type: 'string', default: '3' },
    /**
     * Days of the world's growth held back for live play: the world is simulated that many days
     * longer and its event log cut back, so the catalog holds items (and users) that arrive only
     * during those days (hidden from every reader until their time), as a real feed's would.
     */
    'new-days': { type: 'string', default: '0' },
    /** New items that matter: BOOST,HALF_LIFE_DAYS of the world's novelty term (build-world --novelty); default off. */
    novelty: { type: 'string' },
    /** The models a cycle retrains (retrain.models), comma-separated; default the shipped two_tower,ranker. */
    models: { type: 'string' },
    /**
     * Arms to run, comma-separated: on (scheduled cycles), off (none), frozen (cycles until the first
     * ranker serves, then none: a ranker that stops being fresh).
     */
    arms: { type: 'string', default: 'on,off' },
    doc: { type: 'boolean', default: false },
    /** Keep both arms' worlds (their registries, schedule state and live logs) for a look afterwards. */
    keep: { type: 'boolean', default: false },
  },
});
const days = Number(values.days);
const speed = Number(values.speed);
const users = values.users === undefined ? undefined : Number(values.users);
const rate = values.rate === undefined ? undefined : Number(values.rate);
const models = values.models?.split(',');
type Mode = 'on' | 'off' | 'frozen';
const modes = values.arms!.split(',') as Mode[];
for (const m of modes) if (!['on', 'off', 'frozen'].includes(m)) throw new Error(`--arms: unknown arm "${m}"`);
const seed = Number(values.seed);
const root = mkdtempSync(join(tmpdir(), 'feedloom-retraining-pays-'));
const base = JSON.parse(readFileSync('config/mesh.json', 'utf8'));

interface Arm {
  mode: Mode;
  days: DayStats[];
  schedule: string;
  versions: string;
}

/** The shipped config on this arm's world copy, on free ports, its clock and schedule set. */
async function armConfig(dir: string, retrain: boolean): Promise<string> {
  const raw = structuredClone(base);
  raw.world = { preset: values.preset, seed: Number(values['world-seed']), dir: join(dir, 'world'), existing: true };
  raw.world.clockSpeed = speed;
  raw.snapshotPollMs = 2_000;
  raw.telemetry = { metricsPortOffset: 0 };
  for (const s of ['events', 'blender', 'ranker', 'viewer'] as const) raw.services[s].port = await freePort();
  raw.services.admin = { port: await freePort() };
  for (const g of raw.generators) g.port = await freePort();
  for (const h of raw.ann.hosts) h.port = await freePort();
  // Simulated time (world.clockSpeed). Retraining is checked twice a simulated day; a cycle trains
  // only when compaction has closed a new day. The retrain section is the shipped one.
  if (models) raw.retrain = { ...raw.retrain, models };
  raw.schedule = {
    batch: { every: '3h' },
    compaction: { every: '1h', closedAfter: '30m', idleFor: '2s' },
    retrain: { enabled: retrain, every: '12h', rollout: true },
    leaseTtl: '30s',
  };
  // Engagement is measured here, not latency: deadlines a loaded 2-core machine meets (as in tests),
  // so a slow moment costs a Blend's sources, not the session.
  raw.services.blender = { ...raw.services.blender, hydrateDeadlineMs: 3_000, fanoutDeadlineMs: 3_000 };
  for (const g of raw.generators) g.deadlineMs = 2_000;
  raw.admission = {
    ...raw.admission,
    blend: { ...raw.admission.blend, maxQueueMs: 60_000, maxQueued: 10_000 },
    generate: { ...raw.admission.generate, maxQueueMs: 60_000, maxQueued: 10_000 },
  };
  const path = join(dir, 'mesh.json');
  writeFileSync(path, JSON.stringify(raw, null, 2));
  return path;
}

async function runArm(mode: Mode, worldDir: string): Promise<Arm> {
  const dir = join(root, mode);
  cpSync(worldDir, join(dir, 'world'), { recursive: true });
  const configPath = await armConfig(dir, mode === 'on');
  const mesh = loadMeshConfig(configPath);
  console.log(`== retraining ${mode}: ${configPath}`);
  const running = await startAllInOne(mesh, { configPath });
  const arm: Arm = { mode, days: [], schedule: '', versions: '' };
  const registry = new ModelRegistry(join(mesh.world.dir, 'models'));
  let playing = true;
  const freezer = mode === 'frozen' ? cyclesUntilRanker(configPath, registry, () => playing) : undefined;
  try {
    console.log(formatDayHeader());
    arm.days = await runLiveSimulation({
      mesh,
      days,
      users,
      rate,
      seed,
      log: (line) => console.log(line),
      onDay: (day) => console.log(formatDay(day)),
    });
  } finally {
    playing = false;
    await freezer;
    arm.schedule = formatSchedule(await readScheduleStatus(mesh.world.dir));
    await running.stop();
  }
  const lines: string[] = [];
  for (const model of ['two_tower', 'ranker'])
    for (const v of await registry.list(model)) lines.push(`${model} ${v.version}: ${v.state}`);
  arm.versions = lines.join('; ');
  console.log(arm.schedule);
  console.log(arm.versions);
  return arm;
}

/**
 * The frozen arm's cycles: `feedloom retrain --rollout` every 12 simulated hours (as the scheduler
 * of the "on" arm runs them) until a ranker serves; then nothing more is retrained.
 */
async function cyclesUntilRanker(configPath: string, registry: ModelRegistry, playing: () => boolean): Promise<void> {
  const everyMs = (12 * 3_600_000) / speed;
  while (playing()) {
    await new Promise((r) => setTimeout(r, everyMs));
    if (!playing()) return;
    await new Promise((resolve) =>
      spawn('./bin/feedloom.js', ['retrain', '--rollout', '--config', configPath], { stdio: 'ignore' }).once(
        'exit',
        resolve,
      ),
    );
    const ranker = await registry.latest('ranker', ['serving']);
    if (ranker) {
      console.log(`frozen arm: ranker ${ranker.version} serves; no more retraining`);
      return;
    }
  }
}

/** The preset's world, its last `newDays` of events cut off when given (their catalog rows stay). */
async function worldWithNewDays(dir: string, newDays: number): Promise<void> {
  const preset = presetByName(values.preset!);
  await simulateWorld({
    preset: values.preset!,
    seed: Number(values['world-seed']),
    dir,
    days: preset.days + newDays,
    novelty: values.novelty === undefined ? undefined : parseNovelty(values.novelty),
  });
  if (newDays === 0) return;
  const manifest = await readWorldManifest(dir);
  const keep = manifest.days - newDays;
  for (let d = keep; d < manifest.days; d++)
    rmSync(dirname(worldPaths(dir).eventDay(dayKey(manifest.startMs + d * DAY_MS))), { recursive: true });
  await writeWorldManifest(dir, { ...manifest, days: keep });
}

const worldDir = join(root, 'world');
const newDays = Number(values['new-days']);
const started = Date.now();
await worldWithNewDays(worldDir, newDays);
await prepareWorld(
  parseMeshConfig({
    ...base,
    world: { preset: values.preset, seed: Number(values['world-seed']), dir: worldDir, existing: true },
  }),
  { log: (line) => console.log(line) },
);
const arms: Arm[] = [];
for (const mode of modes) arms.push(await runArm(mode, worldDir));
const minutes = ((Date.now() - started) / 60_000).toFixed(0);
if (values.keep) console.log(`kept: ${root}`);
else rmSync(root, { recursive: true, force: true });

const versions = (counts: Record<string, number>) => Object.keys(counts).join(', ') || '-';
const rows = arms[0].days.map((d, i) => [
  d.day,
  ...arms.flatMap((a) => {
    const day = a.days[i];
    return day
      ? [day.feeds, day.engagementRate.toFixed(4), versions(day.twoTower), versions(day.ranker)]
      : ['-', '-', '-', '-'];
  }),
]);
const mean = (a: Arm) =>
  a.days.reduce((s, d) => s + d.clicks + d.saves, 0) /
  Math.max(
    1,
    a.days.reduce((s, d) => s + d.impressions, 0),
  );
const body = [
  table(
    ['day', ...arms.flatMap((a) => ['feeds', 'engagement', 'two_tower', 'ranker'].map((c) => `${a.mode}: ${c}`))],
    rows,
  ),
  '',
  `Over all days: ${arms.map((a) => `retraining ${a.mode} ${mean(a).toFixed(4)}`).join(', ')} (clicks + saves per impression). ` +
    `Settings: preset ${values.preset} (world seed ${values['world-seed']}), ${days} simulated days, ` +
    `${newDays} of them with the world's new items and users arriving, ` +
    (values.novelty ? `novelty ${values.novelty} (click-logit boost, half-life in days), ` : '') +
    `cycles retrain ${(models ?? ['two_tower', 'ranker']).join(' and ')}, ` +
    `world.clockSpeed ${speed} (a day in ${(86_400 / speed).toFixed(0)} s), users ${users ?? 'all'}, sessions per user a day ${rate ?? 'as simulated'}, seed ${seed}; ` +
    `${minutes} min wall for ${arms.length} arm(s).`,
  '',
  `Versions at the end — ${arms.map((a) => `${a.mode}: ${a.versions}`).join('; ')}`,
  '',
  '```',
  arms.map((a) => `retraining ${a.mode}:\n${a.schedule}`).join('\n\n'),
  '```',
].join('\n');
console.log(body);
if (values.doc) {
  const args = process.argv.slice(2).join(' ');
  writeSection(
    [
      'retraining-pays',
      ...(values.preset !== 'tiny' ? [values.preset!] : []),
      ...(newDays > 0 ? ['new-items'] : []),
      ...(values.novelty ? ['novelty'] : []),
      ...(models ?? []),
      ...(values.arms === 'on,off' ? [] : modes),
    ].join('-'),
    `Retraining ${modes.join(', ')}` +
      (values.preset !== 'tiny' ? ` on the ${values.preset} world` : '') +
      (newDays > 0
        ? `, with the world's new items arriving live (${newDays} days)`
        : ', on a catalog that does not grow') +
      (values.novelty ? `, new items that matter (novelty ${values.novelty})` : '') +
      (models ? `; cycles retrain ${models.join(' and ')} only` : ''),
    `node --import tsx bench/retraining-pays.ts ${args}`,
    body,
    'docs/RETRAINING.md',
  );
}

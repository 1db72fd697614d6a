// `feedloom retrain …`: one retraining cycle, or (--every) one every interval until stopped.
import { resolve } from 'node:path';
import { defineCommand, JSON_OUTPUT, KEEP_WORK, REGISTRY, WORLD } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig } from '../../../libs/config/mesh.js';
import { LockHeldError } from '../../../libs/registry/fs-atomic.js';
import type { CycleReport } from '../../../libs/registry/cycles.js';
import { runCycle, type CycleOptions, type RetrainModel } from '../../offline/retrain/cycle.js';
import { parseInterval, runEvery } from '../../offline/retrain/schedule.js';
import { rolloutPublished } from '../rollout/retrain-hand-off.js';

export const EXIT_LOCKED = 3;

export const retrainCommand = defineCommand({
  name: 'retrain',
  usage: '[--world DIR] [--rollout] [--every 6h]',
  summary: 'train both models on the newest data, gate them against serving, publish (see retrain --help)',
  about: `One cycle: train two_tower and the ranker on the newest window of the event log (config
retrain.windowDays), compare each new version with the one serving on the held-out newest days
(retrain.heldoutDays), publish it when every gate passes (retrain.gates), else reject it with the
reasons. The cycle's report goes to <registry>/cycles/<id>.json.

exit status: 0 every model published or up to date, 1 a model was rejected or failed, 3 another cycle is running`,
  options: {
    world: WORLD,
    registry: REGISTRY,
    models: { type: 'string', arg: 'LIST', help: 'two_tower,ranker (default: retrain.models)' },
    rollout: { type: 'boolean', help: 'roll each published version out (viewer, index, canary, guards, hosts)' },
    every: {
      type: 'string',
      arg: 'INTERVAL',
      help: 'run a cycle every INTERVAL (e.g. 6h, 30m) until stopped (SIGINT/SIGTERM)',
    },
    force: { type: 'boolean', help: 'train even when the newest version already saw every day of the log' },
    'two-tower-args': {
      type: 'string',
      arg: 'ARGS',
      help: 'extra two_tower.py flags, e.g. --two-tower-args="--lr 1000" (a broken run)',
    },
    'ranker-args': { type: 'string', arg: 'ARGS', help: 'extra ranker.py flags' },
    'keep-work': KEEP_WORK,
    json: { ...JSON_OUTPUT, help: 'print the cycle report as JSON' },
  },
  run: ({ values }) => runRetrain(values),
});

async function runRetrain(values: {
  config: string;
  world?: string;
  registry?: string;
  models?: string;
  rollout: boolean;
  every?: string;
  force: boolean;
  'two-tower-args'?: string;
  'ranker-args'?: string;
  'keep-work'?: string;
  json: boolean;
}): Promise<number> {
  const models = values.models?.split(',').map((m) => m.trim());
  const unknown = models?.filter((m) => m !== 'two_tower' && m !== 'ranker') ?? [];
  if (unknown.length) throw new Error(`--models: unknown ${unknown.join(', ')} (known: two_tower, ranker)`);
  const mesh = loadMeshConfig(values.config);
  const log = values.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const options: CycleOptions = {
    mesh,
    worldDir: values.world ? resolve(values.world) : undefined,
    registryDir: values.registry
      ? resolve(values.registry)
      : values.world
        ? resolve(values.world, 'models')
        : undefined,
    models: models as RetrainModel[] | undefined,
    twoTowerTrainerArgs: splitArgs(values['two-tower-args']),
    rankerTrainerArgs: splitArgs(values['ranker-args']),
    rollout: values.rollout ? rolloutPublished : undefined,
    force: values.force,
    workDir: values['keep-work'],
    log,
  };

  const once = async (): Promise<number> => {
    try {
      const { report, reportFile } = await runCycle(options);
      console.log(values.json ? JSON.stringify(report, null, 2) : `${formatCycle(report)}\nreport: ${reportFile}`);
      return report.error || report.models.some((m) => m.outcome === 'rejected' || m.outcome === 'failed') ? 1 : 0;
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      console.error(`feedloom retrain: not starting: ${err.message}`);
      return EXIT_LOCKED;
    }
  };
  if (!values.every) return once();

  const intervalMs = parseInterval(values.every);
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    if (stop.signal.aborted) process.exit(130); // a second signal: stop now (a dead holder's lock is broken by the next cycle)
    log(`${signal}: stopping after the running cycle (again to stop now)`);
    stop.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  log(`retraining every ${values.every}`);
  await runEvery(intervalMs, async () => void (await once()), { signal: stop.signal, log });
  return 0;
}

function splitArgs(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(/\s+/).filter(Boolean);
}

const f4 = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : String(x));

/** The report as a person reads it: per model, the outcome, the key metrics next to the incumbent's, the failed gates. */
export function formatCycle(r: CycleReport): string {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const lines = [
    `cycle ${r.id} on ${r.world}: ${(r.durationMs / 1000).toFixed(1)} s`,
    r.window.endMs
      ? `  trained on ${day(r.window.trainStartMs)}..${day(r.window.heldoutStartMs - 1)}, validated on ${day(r.window.heldoutStartMs)}..${day(r.window.endMs - 1)}`
      : '',
  ];
  if (r.error) lines.push(`  failed: ${r.error}`);
  const k = Number(r.gates.k ?? 100);
  for (const m of r.models) {
    const against = m.outcome === 'skipped' ? '' : m.incumbent ? ` (vs serving ${m.incumbent})` : ' (nothing serving)';
    lines.push(`  ${m.model} ${m.version ?? '(no new version)'}: ${m.outcome.toUpperCase()}${against}`);
    const keys =
      m.model === 'two_tower'
        ? [`recall@${k}`, 'recall@500', 'item_mean_pairwise_cosine', 'user_mean_pairwise_cosine']
        : ['auc_click', 'auc_save', 'hit3_save'];
    for (const key of keys) {
      const c = m.metrics.candidate?.[key];
      if (c === undefined) continue;
      const inc = m.metrics.incumbent?.[key];
      lines.push(`    ${key.padEnd(26)} ${f4(c)}${inc === undefined ? '' : `   serving ${f4(inc)}`}`);
    }
    for (const reason of m.reasons) lines.push(`    rejected: ${reason}`);
    if (m.error && !m.reasons.includes(m.error)) lines.push(`    ${m.error}`);
    for (const note of m.notes) lines.push(`    note: ${note}`);
    if (m.rollout) lines.push(`    rollout: ${m.rollout.detail}`);
    const t = Object.entries(m.timings).map(([name, ms]) => `${name.replace(/Ms$/, '')} ${(ms / 1000).toFixed(1)} s`);
    if (t.length) lines.push(`    ${t.join(', ')}`);
  }
  return lines.filter(Boolean).join('\n');
}

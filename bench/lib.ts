import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { loadMeshConfig, type MeshConfig } from '../libs/config/mesh.js';
import { eventsView, openDuck, queryRows } from '../libs/data/duck.js';
import { prepareWorld } from '../services/offline/trainer/prepare-world.js';

/** Shared by every benchmark: medians, the machine, and writing results into docs/BENCHMARKS.md. */

export const DOC = 'docs/BENCHMARKS.md';

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const load = os.loadavg()[0].toFixed(1);
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${load} at start`;
}

export function gitRevision(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

/** A markdown table from a header and rows. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

/**
 * Replaces one benchmark's section of docs/BENCHMARKS.md (or of `doc`) between its markers, leaving
 * the rest, so each benchmark can be rerun on its own.
 */
export function writeSection(id: string, title: string, command: string, body: string, doc = DOC): void {
  const start = `<!-- bench:${id} -->`;
  const end = `<!-- /bench:${id} -->`;
  const section = [
    start,
    `## ${title}`,
    '',
    `Command: \`${command}\` · date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · commit ${gitRevision()}`,
    `Machine: ${machine()}`,
    '',
    body.trim(),
    end,
  ].join('\n');
  const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next =
    from >= 0 && to > from
      ? text.slice(0, from) + section + text.slice(to + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(doc, next);
}

/** Cumulative bucket counts of the blender's overhead histogram (le → count), summed over label sets. */
export async function overheadBuckets(
  blenderEndpoint: { host: string; port: number } | undefined,
): Promise<Map<number, number> | undefined> {
  if (!blenderEndpoint) return undefined;
  try {
    const text = await (await fetch(`http://${blenderEndpoint.host}:${blenderEndpoint.port}/metrics`)).text();
    const buckets = new Map<number, number>();
    for (const line of text.split('\n')) {
      const m = /^feedloom_blender_overhead\w*_bucket\{.*le="([^"]+)".*\}\s+(\S+)/.exec(line);
      if (m)
        buckets.set(
          m[1] === '+Inf' ? Infinity : Number(m[1]),
          (buckets.get(m[1] === '+Inf' ? Infinity : Number(m[1])) ?? 0) + Number(m[2]),
        );
    }
    return buckets.size ? buckets : undefined;
  } catch {
    return undefined;
  }
}

/** The p50 (linear within its bucket) and the share ≤ 3 ms, from the histogram's growth over one run. */
export function overheadOf(
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
): { p50: number; within3: number } {
  if (!after) return { p50: Number.NaN, within3: Number.NaN };
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le: number) => after.get(le)! - (before?.get(le) ?? 0);
  const total = count(Infinity);
  if (!total) return { p50: Number.NaN, within3: Number.NaN };
  let lower = 0;
  let p50 = Number.NaN;
  for (const le of bounds) {
    const below = lower === 0 ? 0 : count(lower);
    if (count(le) >= total / 2) {
      p50 = le === Infinity ? lower : lower + ((total / 2 - below) / Math.max(1, count(le) - below)) * (le - lower);
      break;
    }
    lower = le;
  }
  return { p50, within3: count(3) / total };
}

/**
 * Capacity as the benchmarks define it: calls answered per second by a closed loop of `callers`
 * callers, each sending its next call when its last one is answered, for `seconds`. `call` says
 * whether its call counts as served.
 */
export async function closedLoopRate(call: () => Promise<boolean>, callers: number, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let served = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) if (await call()) served++;
    }),
  );
  return served / seconds;
}

/** A port that was free a moment ago (for a metrics endpoint). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** How co-located components talk in this run: in-process (the default) or loopback gRPC (FEEDLOOM_IN_PROCESS_CALLS=0). */
export const loopbackOnly = process.env.FEEDLOOM_IN_PROCESS_CALLS === '0';
/** The env prefix that reproduces this run's transport, for the command line written to the doc. */
export const transportEnv = loopbackOnly ? 'FEEDLOOM_IN_PROCESS_CALLS=0 ' : '';
/** A title suffix naming the transport when it is not the default. */
export const transportNote = loopbackOnly ? ', loopback gRPC between components' : '';

/**
 * Prepares the config's world as `make up` does (quick when it is there) and returns up to `limit`
 * users who have events, in a fixed pseudo-random order.
 */
export async function preparedWorldUsers(mesh: MeshConfig, limit: number): Promise<string[]> {
  await prepareWorld(mesh, { log: (line) => console.log(line) });
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, mesh.world.dir);
    const rows = await queryRows<{ user_id: string }>(
      duck.conn,
      `SELECT DISTINCT user_id FROM events ORDER BY hash(user_id) LIMIT ${Math.floor(limit)}`,
    );
    return rows.map((r) => r.user_id);
  } finally {
    duck.close();
  }
}

/**
 * The mesh config a serving benchmark starts: the file's, with the scheduler's jobs off. They would
 * run in the benchmark's all-in-one process (batch jobs and retraining stall its event loop for
 * seconds) and write to the shared world; serving is what these benchmarks measure.
 */
export function servingConfig(path: string): MeshConfig {
  const mesh = loadMeshConfig(path);
  for (const job of [mesh.schedule.batch, mesh.schedule.compaction, mesh.schedule.retrain]) job.enabled = false;
  return mesh;
}

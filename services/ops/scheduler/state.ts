// What the scheduler did and will do, per job, in <world>/schedule/state.json (written atomically by
// the leader), so the status page and `feedloom status` show it, and it survives restarts.
import fs from 'node:fs/promises';
import path from 'node:path';
import { replaceFileAtomic } from '../../../libs/registry/fs-atomic.js';
import { readLease, type Lease } from './lease.js';

export interface JobState {
  everyMs: number;
  lastStartMs?: number;
  lastEndMs?: number;
  /** ok; failed (with the error); interrupted (its leader died or stopped mid-run: run again). */
  lastResult?: 'ok' | 'failed' | 'interrupted';
  lastDetail?: string;
  nextRunMs?: number;
  /** Set while a leader runs it: who, since when. */
  running?: { holder: string; sinceMs: number };
}

export interface ScheduleState {
  jobs: Record<string, JobState>;
}

export const scheduleDirOf = (worldDir: string) => path.join(worldDir, 'schedule');
export const stateFileOf = (worldDir: string) => path.join(scheduleDirOf(worldDir), 'state.json');
export const leaseFileOf = (worldDir: string) => path.join(scheduleDirOf(worldDir), 'leader.json');

export async function readScheduleState(worldDir: string): Promise<ScheduleState> {
  try {
    return JSON.parse(await fs.readFile(stateFileOf(worldDir), 'utf8')) as ScheduleState;
  } catch {
    return { jobs: {} };
  }
}

export async function writeScheduleState(worldDir: string, state: ScheduleState): Promise<void> {
  await fs.mkdir(scheduleDirOf(worldDir), { recursive: true });
  await replaceFileAtomic(stateFileOf(worldDir), JSON.stringify(state, null, 2) + '\n');
}

/** The schedule as the status page and `feedloom status` show it: each job, and who leads. */
export async function readScheduleStatus(worldDir: string): Promise<ScheduleState & { leader?: Lease }> {
  const [state, leader] = await Promise.all([readScheduleState(worldDir), readLease(leaseFileOf(worldDir))]);
  return { ...state, ...(leader && leader.expiresMs > Date.now() ? { leader } : {}) };
}

export type ScheduleStatus = Awaited<ReturnType<typeof readScheduleStatus>>;

/** One line per job, as `feedloom status` prints them. */
export function formatSchedule(status: ScheduleStatus, nowMs = Date.now()): string {
  const names = Object.keys(status.jobs);
  if (names.length === 0) return 'schedule: no scheduler has run on this world';
  const at = (ms?: number) => (ms === undefined ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'));
  const lines = [
    `schedule (leader: ${status.leader ? `${status.leader.holder}, lease until ${at(status.leader.expiresMs)}` : 'none'}):`,
  ];
  for (const name of names) {
    const j = status.jobs[name];
    const last = j.running
      ? `running since ${at(j.running.sinceMs)}`
      : `last ${at(j.lastStartMs)} ${j.lastResult ?? 'never run'}${j.lastDetail ? `: ${j.lastDetail}` : ''}`;
    const next = j.nextRunMs === undefined ? '-' : j.nextRunMs <= nowMs ? 'due now' : at(j.nextRunMs);
    lines.push(`  ${name.padEnd(11)} every ${formatEvery(j.everyMs)}, next ${next}; ${last}`);
  }
  return lines.join('\n');
}

export function formatEvery(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

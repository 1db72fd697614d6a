// The data window of a retraining cycle: the newest `windowDays` days of the world's event log,
// whose newest `heldoutDays` are held out (never trained on) to compare the new version with the
// serving one. When the log is longer than the window, the trainers read a window view of the
// world: the same catalog, and only the window's day partitions of the event log.
import fs from 'node:fs/promises';
import path from 'node:path';
import { DAY_MS, dayKey, readWorldManifest, worldPaths, type WorldManifest } from '../../../libs/data/world.js';

export interface CycleWindow {
  /** Training data: [trainStartMs, heldoutStartMs). */
  trainStartMs: number;
  heldoutStartMs: number;
  /** The end of the newest day of the log (exclusive). */
  endMs: number;
  windowDays: number;
  heldoutDays: number;
}

/** The window over a world whose closed days are [startMs, startMs + days × DAY). */
export function cycleWindow(
  world: Pick<WorldManifest, 'startMs' | 'days'>,
  windowDays: number,
  heldoutDays: number,
): CycleWindow {
  if (world.days < heldoutDays + 1) {
    throw new Error(
      `the world has ${world.days} day(s) of events: a cycle needs at least ${heldoutDays + 1} (${heldoutDays} held out, one to train on)`,
    );
  }
  if (windowDays < heldoutDays + 1)
    throw new Error(`retrain.windowDays (${windowDays}) must exceed retrain.heldoutDays (${heldoutDays})`);
  const endMs = world.startMs + world.days * DAY_MS;
  return {
    trainStartMs: Math.max(world.startMs, endMs - windowDays * DAY_MS),
    heldoutStartMs: endMs - heldoutDays * DAY_MS,
    endMs,
    windowDays: Math.min(windowDays, world.days),
    heldoutDays,
  };
}

/**
 * The world the trainers read: worldDir itself when the window covers the whole log, otherwise a
 * view in viewDir (world.json for the window, the catalog and the window's event days hard-linked).
 * Users' histories in the view start at the window: events before it are not read at all.
 */
export async function windowWorld(worldDir: string, window: CycleWindow, viewDir: string): Promise<string> {
  const world = await readWorldManifest(worldDir);
  if (window.trainStartMs <= world.startMs) return worldDir;
  const from = worldPaths(worldDir);
  const to = worldPaths(viewDir);
  await fs.rm(viewDir, { recursive: true, force: true });
  await fs.mkdir(to.events, { recursive: true });
  await linkFiles(from.catalog, to.catalog);
  const days: string[] = [];
  for (let t = window.trainStartMs; t < window.endMs; t += DAY_MS) days.push(dayKey(t));
  for (const day of days) {
    await linkFiles(path.dirname(from.eventDay(day)), path.dirname(to.eventDay(day)));
    await linkFiles(path.join(from.live, `day=${day}`), path.join(to.live, `day=${day}`));
  }
  const manifest: WorldManifest = {
    ...world,
    name: `${world.name} (days ${days[0]}..${days[days.length - 1]})`,
    startMs: window.trainStartMs,
    days: days.length,
    hasTruth: false,
  };
  await fs.writeFile(to.manifest, JSON.stringify(manifest, null, 2) + '\n');
  return viewDir;
}

/**
 * Hard-links (copies across file systems) the files of one folder into another; nothing when the
 * folder does not exist. Links, not symlinks: the event readers list real files only.
 */
async function linkFiles(fromDir: string, toDir: string): Promise<void> {
  const entries = await fs.readdir(fromDir, { withFileTypes: true }).catch(() => []);
  if (entries.length === 0) return;
  await fs.mkdir(toDir, { recursive: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const from = path.join(fromDir, e.name);
    const to = path.join(toDir, e.name);
    await fs.link(from, to).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
      await fs.copyFile(from, to);
    });
  }
}

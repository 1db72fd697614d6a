// Claiming a directory for a new world without ever losing the one that is there: a command that
// would replace a world it did not create refuses, naming the directory and the flag; with --force
// the old world's files are moved aside (renamed with a timestamp), never deleted.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorldManifest } from './world.js';
import { worldPaths } from './world.js';
import { acquireProcessLock, LockHeldError } from '../registry/fs-atomic.js';

/** Everything a world and the mesh keep in its directory (the registry and eval work included). */
const WORLD_ENTRIES = ['world.json', 'catalog', 'events', 'truth', 'snapshots', 'models', 'eval'];

export interface WorldDirContents {
  dir: string;
  /** The manifest, when there is a readable one. */
  manifest?: WorldManifest;
  /** Entries in the directory (world files and anything else). */
  entries: string[];
  /** Files of live events acknowledged by an events service. */
  liveEventFiles: number;
}

export async function inspectWorldDir(dir: string): Promise<WorldDirContents> {
  const root = path.resolve(dir);
  const entries = await fs.readdir(root).catch(() => [] as string[]);
  let manifest: WorldManifest | undefined;
  try {
    manifest = JSON.parse(await fs.readFile(worldPaths(root).manifest, 'utf8')) as WorldManifest;
  } catch {
    manifest = undefined;
  }
  return { dir: root, manifest, entries, liveEventFiles: await countFiles(worldPaths(root).live) };
}

/** What the directory holds, in words, for a refusal. */
export function describeWorldDir(contents: WorldDirContents): string {
  const m = contents.manifest;
  const what = !m
    ? contents.entries.includes('world.json')
      ? 'a world whose world.json cannot be read'
      : `${contents.entries.length} file(s) that are not a world (${contents.entries.slice(0, 3).join(', ')})`
    : m.source === 'import'
      ? `the imported world '${m.name}' (${m.counts.events} events)`
      : `the simulated world '${m.preset}' (seed ${m.seed})`;
  return contents.liveEventFiles > 0 ? `${what} with ${contents.liveEventFiles} file(s) of live events` : what;
}

export interface ClaimOptions {
  /** Replace what is there by moving it aside. */
  force?: boolean;
  /** A world this command may replace without --force (it made it, and nothing was logged into it since). */
  replaceable?: (manifest: WorldManifest) => boolean;
  /** The command and flag that replaces, for the refusal: e.g. "feedloom up --force". */
  forceHint: string;
  /** What else the user can do instead, appended to the refusal. */
  otherwise?: string;
}

/**
 * Makes dir ready to receive a new world: an empty or absent directory is used as it is; a world
 * the command may replace, or anything with force, is moved aside first. Returns where it went.
 */
export async function claimWorldDir(dir: string, options: ClaimOptions): Promise<{ movedTo?: string }> {
  const contents = await inspectWorldDir(dir);
  await fs.mkdir(contents.dir, { recursive: true });
  if (contents.entries.length === 0) return {};
  const replaceable =
    contents.manifest !== undefined &&
    contents.liveEventFiles === 0 &&
    (options.replaceable?.(contents.manifest) ?? false);
  if (!replaceable && !options.force) {
    throw new Error(
      `${contents.dir} already holds ${describeWorldDir(contents)}; refusing to replace it. ` +
        `${options.otherwise ? `${options.otherwise}; ` : ''}${options.forceHint} moves it aside (renamed with a timestamp) and starts a new one`,
    );
  }
  // Never from under a running mesh: its events service holds the world's writer lock.
  let release: () => Promise<void>;
  try {
    release = await acquireProcessLock(
      worldPaths(contents.dir).writerLock,
      `replacing the world (${options.forceHint})`,
    );
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    const h = err.holder;
    throw new Error(
      `${contents.dir} is in use: ${h.what} (pid ${h.pid} on host ${h.host}) writes its events; refusing to move it aside. Stop the mesh first`,
    );
  }
  try {
    const movedTo = await moveWorldAside(contents);
    // Our lock went aside with the world's events: the world moved aside is left as it was.
    if (movedTo) await fs.rm(worldPaths(movedTo).writerLock, { force: true });
    return { movedTo };
  } finally {
    await release();
  }
}

/** Renames the world's entries into <dir>.replaced-<timestamp>/; other files stay where they are. */
async function moveWorldAside(contents: WorldDirContents): Promise<string | undefined> {
  const moving = contents.entries.filter((e) => WORLD_ENTRIES.includes(e));
  if (moving.length === 0) return undefined;
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const target = await freshDir(`${contents.dir}.replaced-${stamp}`);
  // The manifest first: from then on no reader takes what is left for a whole world.
  for (const entry of [...moving.filter((e) => e === 'world.json'), ...moving.filter((e) => e !== 'world.json')]) {
    await fs.rename(path.join(contents.dir, entry), path.join(target, entry));
  }
  return target;
}

/** base, or base-2, base-3 … when a replacement in the same second took it. */
async function freshDir(base: string): Promise<string> {
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      await fs.mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n += entry.isDirectory() ? await countFiles(path.join(dir, entry.name)) : 1;
  }
  return n;
}

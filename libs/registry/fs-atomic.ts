// Durable file-system steps the registry is built from: fsynced writes, temp-and-rename, a lock file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';

/** Writes content and fsyncs it before returning. */
export async function writeFileSynced(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory, so the renames and creations inside it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories; the data files themselves were synced.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  } finally {
    await handle.close();
  }
}

/** Replaces file atomically: a reader sees the old content or the new, never a mix. */
export async function replaceFileAtomic(file: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFileSynced(tmp, content);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

/** Every regular file under dir (recursively), as paths relative to dir with '/' separators, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for (const entry of await fs.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile()) out.push(rel);
    }
  };
  await walk('');
  return out.sort();
}

/** fsyncs every file under dir and every directory in it. */
export async function syncTree(dir: string): Promise<void> {
  for (const rel of await listFiles(dir)) {
    const handle = await fs.open(path.join(dir, rel), 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  const dirs = new Set([dir, ...(await listFiles(dir)).map((rel) => path.dirname(path.join(dir, rel)))]);
  for (const d of dirs) await syncDir(d);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Runs fn while holding an exclusive lock file (O_EXCL create). A lock older than staleMs is taken
 * to be left by a crashed process and broken.
 */
export async function withLockFile<T>(
  lockFile: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number; staleMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await fs.open(lockFile, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const stat = await fs.stat(lockFile).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > staleMs) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`timed out after ${timeoutMs} ms waiting for the lock ${lockFile}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, 5 + attempt * 5)));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}

/** What an exclusive process lock file holds: who took it and when. */
export interface ProcessLockHolder {
  pid: number;
  host: string;
  sinceMs: number;
  what: string;
  /** The lock file's absolute path when taken: a copy of a directory carries the lock to another path. */
  path?: string;
}

export class LockHeldError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: ProcessLockHolder,
  ) {
    super(
      `${holder.what} is already running (pid ${holder.pid} on ${holder.host}, since ${new Date(holder.sinceMs).toISOString()}; lock ${lockFile})`,
    );
    this.name = 'LockHeldError';
  }
}

/**
 * Takes an exclusive lock for a long job (e.g. a retraining cycle) without waiting: throws
 * LockHeldError naming the holder when another live process has it. Unlike withLockFile there is
 * no age limit (a job may run for hours): a lock is stale only when its process on this host is
 * gone. Returns the release function.
 */
export async function acquireProcessLock(lockFile: string, what: string): Promise<() => Promise<void>> {
  const host = hostname();
  const absolute = path.resolve(lockFile);
  const holder: ProcessLockHolder = { pid: process.pid, host, sinceMs: Date.now(), what, path: absolute };
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await fs.open(lockFile, 'wx');
      try {
        await handle.writeFile(JSON.stringify(holder) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await fs.rm(lockFile, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const current = await readLockHolder(lockFile);
      // Stale on this host: its process is gone, or it was taken for another path (a copied directory).
      const stale =
        current !== undefined &&
        current.host === host &&
        (!processAlive(current.pid) || (current.path !== undefined && current.path !== absolute));
      if (current && !stale) throw new LockHeldError(lockFile, current);
      if (!current) {
        // Unreadable: a holder may be writing it right now; only an old one was left by a crash.
        const stat = await fs.stat(lockFile).catch(() => undefined);
        if (stat && Date.now() - stat.mtimeMs < 5_000)
          throw new LockHeldError(lockFile, { pid: 0, host: '?', sinceMs: stat.mtimeMs, what });
      }
      // Left by a process that is gone, or a crashed writer's unreadable file: break it.
      await fs.rm(lockFile, { force: true });
    }
  }
  throw new Error(`could not take the lock ${lockFile}: it keeps reappearing`);
}

async function readLockHolder(lockFile: string): Promise<ProcessLockHolder | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(lockFile, 'utf8')) as ProcessLockHolder;
    return Number.isInteger(parsed.pid) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

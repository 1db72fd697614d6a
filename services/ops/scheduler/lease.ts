// The scheduler's leadership: a lease file in the world (<world>/schedule/leader.json) naming its
// holder and when it expires. The leader renews it while it runs; a crashed leader stops renewing,
// its lease expires, and the next scheduler takes over. Reads and writes of the file happen under
// a short lock file, so two candidates never both win.
import fs from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { replaceFileAtomic, withLockFile } from '../../../libs/registry/fs-atomic.js';

export interface Lease {
  holder: string;
  host: string;
  pid: number;
  sinceMs: number;
  expiresMs: number;
}

/** A holder id for this process: host, pid and a random part (a restarted pod may reuse a pid). */
export function newHolderId(): string {
  return `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function readLease(file: string): Promise<Lease | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Lease;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lease when it is free or expired, or renews it when holder has it. Returns the lease
 * as it now stands: the caller leads when lease.holder is its own id.
 */
export async function takeOrRenewLease(file: string, holder: string, ttlMs: number): Promise<Lease> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  return withLockFile(`${file}.lock`, async () => {
    const now = Date.now();
    const current = await readLease(file);
    if (current && current.holder !== holder && current.expiresMs > now) return current;
    const lease: Lease = {
      holder,
      host: hostname(),
      pid: process.pid,
      sinceMs: current?.holder === holder ? current.sinceMs : now,
      expiresMs: now + ttlMs,
    };
    await replaceFileAtomic(file, JSON.stringify(lease, null, 2) + '\n');
    return lease;
  });
}

/** Gives the lease up (when holder has it), so the next scheduler need not wait for it to expire. */
export async function releaseLease(file: string, holder: string): Promise<void> {
  await withLockFile(`${file}.lock`, async () => {
    if ((await readLease(file))?.holder === holder) await fs.rm(file, { force: true });
  }).catch(() => undefined);
}

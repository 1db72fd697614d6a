// One writer per world directory: the live log's sequence numbers and idempotency keys are only
// right when one process appends to it. The first events service on a world takes
// <world>/events/writer.lock (pid, host, since); another one started on the same world serves
// reads and refuses Log with FAILED_PRECONDITION naming the holder, until it is restarted after the
// holder stops. A lock left by a process that is gone from this host is broken; one held from
// another host (a shared volume) is not, and says so.
import { failedPrecondition } from '../../libs/bootstrap/errors.js';
import type { RpcError } from '../../libs/bootstrap/errors.js';
import { worldPaths } from '../../libs/data/world.js';
import { acquireProcessLock, LockHeldError, type ProcessLockHolder } from '../../libs/registry/fs-atomic.js';

export interface WorldWriter {
  /** Undefined when this process writes the world; otherwise the refusal its Log calls answer. */
  refusal?: RpcError;
  release(): Promise<void>;
}

/** The world's writer lock; an events replica (JetStream, partitions owned) takes its own, one per replica index. */
export const writerLockOf = (worldDir: string, replica?: number) => {
  const lock = worldPaths(worldDir).writerLock;
  return replica === undefined ? lock : lock.replace(/\.lock$/, `-replica-${replica}.lock`);
};

const describe = (h: ProcessLockHolder) =>
  `${h.what} (pid ${h.pid} on host ${h.host}, since ${new Date(h.sinceMs).toISOString()})`;

/** Takes the world's writer lock, or reports who holds it and returns the refusal to answer Log with. */
export async function takeWorldWriter(
  worldDir: string,
  report: (line: string) => void,
  replica?: number,
): Promise<WorldWriter> {
  try {
    const release = await acquireProcessLock(
      writerLockOf(worldDir, replica),
      replica === undefined ? 'an events service' : `events replica ${replica}`,
    );
    return { release };
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    const holder = describe(err.holder);
    report(
      `this world's events are written by ${holder}: serving reads only, Log is refused. ` +
        `Restart this service after that one stops (a lock left on another host is never broken: remove events/writer.lock in the world once its holder is gone)`,
    );
    return {
      refusal: failedPrecondition(
        `this world's events are written by ${holder}; this events service serves reads only (one writer per world)`,
      ),
      release: async () => {},
    };
  }
}

// Idempotent Log: the answers of keyed Log calls already acknowledged, so a client that retries
// after a lost answer (a timeout, a dropped connection, a restart of this service) gets the first
// answer again instead of writing its events twice. Rebuilt from the log at start-up: every
// line of a keyed call carries its key.
import { createHash } from 'node:crypto';
import type { LogResponse } from '../../generated/feedloom/v1/events.js';
import { failedPrecondition } from '../../libs/bootstrap/errors.js';
import type { NewEvent } from './live-log.js';

export const REMEMBERED_KEYS = 100_000;

interface Acked {
  accepted: number;
  lastSequence: number;
  /** What the events were, so a key reused for other events is refused rather than dropped. */
  fingerprint: string;
}

/**
 * The events' identity as a client sends them, as a SHA-256 (a remembered key costs 64 characters,
 * not its call's ids); the time is left out, since 0 means "now" on each try.
 */
export function fingerprintOf(events: Pick<NewEvent, 'userId' | 'itemId' | 'action' | 'boardId'>[]): string {
  const hash = createHash('sha256');
  for (const e of events) hash.update(`${e.userId}\u0000${e.itemId}\u0000${e.action}\u0000${e.boardId}\u0001`);
  return hash.digest('hex');
}

export class AckedCalls {
  /** Insertion order is age order: the oldest key is forgotten first. */
  private readonly acked = new Map<string, Acked>();
  /** Keyed calls being written now: a concurrent retry waits for the same write. */
  private readonly inFlight = new Map<string, { fingerprint: string; answer: Promise<LogResponse> }>();

  constructor(private readonly capacity = REMEMBERED_KEYS) {}

  /** Rebuilds the acknowledged calls from replayed log lines (in sequence order). */
  static fromLog(events: (NewEvent & { seq: number })[], capacity = REMEMBERED_KEYS): AckedCalls {
    const calls = new AckedCalls(capacity);
    const byKey = new Map<string, (NewEvent & { seq: number })[]>();
    for (const e of events) if (e.logKey) (byKey.get(e.logKey) ?? byKey.set(e.logKey, []).get(e.logKey)!).push(e);
    for (const [key, lines] of byKey)
      calls.remember(key, {
        accepted: lines.length,
        lastSequence: lines[lines.length - 1].seq,
        fingerprint: fingerprintOf(lines),
      });
    return calls;
  }

  get size(): number {
    return this.acked.size;
  }

  /**
   * The answer to a Log call: the remembered one for a key already acknowledged (or being written),
   * else write() once. A key reused for different events is FAILED_PRECONDITION.
   */
  async answer(
    key: string,
    events: NewEvent[],
    write: () => Promise<{ accepted: number; lastSequence: number }>,
  ): Promise<LogResponse> {
    const fingerprint = fingerprintOf(events);
    const known = this.acked.get(key) ?? this.inFlight.get(key);
    if (known) {
      if (known.fingerprint !== fingerprint) {
        throw failedPrecondition(
          `idempotency_key "${key}" was already used for other events; use a new key for a new call`,
        );
      }
      if ('answer' in known) return known.answer;
      return { accepted: known.accepted, lastSequence: known.lastSequence, duplicate: true };
    }
    const answer = write().then((r) => ({ ...r, duplicate: false }));
    const retried = answer.then((r) => ({ ...r, duplicate: true }));
    retried.catch(() => {}); // a failed write rejects the caller's own promise; a retry that waited on it rejects too
    this.inFlight.set(key, { fingerprint, answer: retried });
    try {
      const result = await answer;
      this.remember(key, { ...result, fingerprint });
      return result;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private remember(key: string, acked: Acked): void {
    this.acked.delete(key);
    this.acked.set(key, acked);
    while (this.acked.size > this.capacity) this.acked.delete(this.acked.keys().next().value!);
  }
}

// The durable event log behind Log, whichever backend holds it (services.events.backend): the
// world's fsync'd live files (live-log.ts) or a JetStream stream (jetstream-log.ts).
import type { ActionName } from './action-names.js';

export interface NewEvent {
  userId: string;
  itemId: string;
  action: ActionName;
  timeMs: number;
  boardId: string;
  source: string;
  requestId: string;
  /** The idempotency key of the Log call that wrote it, when the call had one. */
  logKey?: string;
  /** The service's clock when it took the Log call (lines written before it existed lack it). */
  receivedMs?: number;
}

export interface LoggedEvent extends NewEvent {
  /** Position in the log: increases with every event, also across restarts. */
  seq: number;
}

/** A line replay skipped. "torn" is an unfinished last line: a crash mid-write, never acknowledged. */
export interface LogProblem {
  file: string;
  line: number;
  kind: 'torn' | 'corrupt' | 'incomplete';
  detail: string;
}

export interface Replay {
  /** Every readable event, in sequence order. */
  events: LoggedEvent[];
  problems: LogProblem[];
  files: number;
  /** Where the events were read from, for the start-up report ("3 files", "stream X"). */
  source: string;
}

export interface EventLog {
  /** Appends the events; resolves with their sequence numbers only once they are durable. Rejects UNAVAILABLE otherwise. */
  append(events: NewEvent[]): Promise<LoggedEvent[]>;
  /** The sequence number of the last acknowledged event (0 when none). */
  readonly lastSequence: number;
  /** Finishes the appends already accepted, then lets go of files or connections. */
  close(): Promise<void>;
}

/** An opened log and what earlier processes wrote to it, replayed at start-up. */
export interface OpenedLog {
  log: EventLog;
  replay: Replay;
}

// The event log on a NATS JetStream stream (services.events.backend "jetstream"). Each event is one
// message on <prefix>.<partition>.<day> (libs/data/event-stream.ts); Log is acknowledged only after
// the broker acked every one of its messages, which it does once they are stored (on a quorum of
// the stream's replicas). A keyed call's messages carry ids from its key, so the broker drops the
// copies a retry sends inside its duplicate window, also when the first try was only partly stored.
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { StorageType, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { brokerName, connectToBroker, readStream, type Broker } from '../../libs/data/event-broker.js';
import { unavailable } from '../../libs/bootstrap/errors.js';
import type { JetStreamSettings } from '../../libs/config/mesh.js';
import { dayKey } from '../../libs/data/world.js';
import {
  allEventSubjects,
  dayOfSubject,
  eventMessageId,
  eventSubject,
  partitionOf,
  partitionSubjects,
} from '../../libs/data/event-stream.js';
import type { EventLog, LoggedEvent, LogProblem, NewEvent, OpenedLog } from './event-log.js';
import { eventOf, recordOf } from './live-log.js';

/** How many events the Log call a message belongs to had: replay tells a whole keyed call from a partly stored one. */
const CALL_SIZE_HEADER = 'Feedloom-Log-Size';

export class JetStreamLog implements EventLog {
  private connected = true;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly settings: JetStreamSettings,
    private lastSeq: number,
  ) {
    void this.watchConnection();
  }

  /**
   * Connects, creates the stream if the broker lacks it, and replays it. Events of a day already
   * compacted into Parquet up to compactedThrough(day) are history, not replayed again.
   */
  static async open(
    settings: JetStreamSettings,
    compactedThrough: Map<string, number>,
    ownedPartitions?: number[],
  ): Promise<OpenedLog> {
    const broker = await connectToBroker(settings, 'feedloom-events');
    try {
      await ensureStream(broker.jsm, settings);
      const replay = await replayStream(broker, settings, compactedThrough, ownedPartitions);
      const log = new JetStreamLog(broker.nc, broker.js, settings, replay.lastSeq);
      return { log, replay: { events: replay.events, problems: replay.problems, files: 0, source: replay.source } };
    } catch (err) {
      await broker.nc.close().catch(() => undefined);
      throw err;
    }
  }

  get lastSequence(): number {
    return this.lastSeq;
  }

  async append(events: NewEvent[]): Promise<LoggedEvent[]> {
    if (this.closed) throw unavailable('the events log is shutting down');
    // While disconnected the client would buffer the messages and send them after we answered: refuse at once.
    if (!this.connected)
      throw unavailable(`${brokerName(this.settings)} is unreachable; the events were not logged, retry later`);
    const publishing = Promise.all(events.map((e, i) => this.publish(e, i, events.length)));
    this.inFlight.add(publishing);
    try {
      const seqs = await publishing;
      this.lastSeq = Math.max(this.lastSeq, ...seqs);
      return events.map((e, i) => ({ ...e, seq: seqs[i] }));
    } catch (err) {
      throw unavailable(
        `${brokerName(this.settings)} did not acknowledge the events (${(err as Error).message}); ` +
          'they are not logged: retry with the same idempotency_key',
      );
    } finally {
      this.inFlight.delete(publishing);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.nc.close().catch(() => undefined);
  }

  private async publish(event: NewEvent, index: number, callSize: number): Promise<number> {
    const { subjectPrefix, partitions, stream, publishTimeoutMs } = this.settings;
    const subject = eventSubject(subjectPrefix, partitionOf(event.userId, partitions), dayKey(event.timeMs));
    const hdrs = headers();
    hdrs.set(CALL_SIZE_HEADER, String(callSize));
    const ack = await this.js.publish(subject, JSON.stringify(recordOf(event)), {
      headers: hdrs,
      ...(event.logKey ? { msgID: eventMessageId(event.logKey, index) } : {}),
      expect: { streamName: stream },
      timeout: publishTimeoutMs,
    });
    return ack.seq;
  }

  private async watchConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
  }
}

/** The stream's description records its partition count: users must never move to another partition. */
const describePartitions = (partitions: number) => `feedloom events, partitions=${partitions}`;

/** Creates the stream if missing; one that exists must capture the configured subjects and partitions. */
async function ensureStream(jsm: JetStreamManager, settings: JetStreamSettings): Promise<void> {
  const subjects = [allEventSubjects(settings.subjectPrefix)];
  const description = describePartitions(settings.partitions);
  const existing = await jsm.streams.info(settings.stream).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return undefined;
    throw new Error(`${brokerName(settings)}: ${err.message}`);
  });
  if (existing) {
    if (existing.config.subjects?.join() !== subjects.join())
      throw new Error(
        `services.events.jetstream: stream ${settings.stream} on the broker holds subjects ` +
          `${existing.config.subjects?.join(', ')}, not ${subjects[0]} (subjectPrefix ${settings.subjectPrefix})`,
      );
    if (existing.config.description !== description)
      throw new Error(
        `services.events.jetstream.partitions: stream ${settings.stream} was made with ` +
          `"${existing.config.description ?? 'no partition count'}", not ${settings.partitions} partitions; ` +
          'the partition count is fixed for a stream (a user must stay in one partition)',
      );
    return;
  }
  await jsm.streams.add({
    name: settings.stream,
    subjects,
    description,
    storage: StorageType.File,
    num_replicas: settings.replicas,
    duplicate_window: settings.duplicateWindowMinutes * 60_000 * 1_000_000, // nanoseconds
  });
}

interface StreamReplay {
  events: LoggedEvent[];
  problems: LogProblem[];
  lastSeq: number;
  source: string;
}

/**
 * Reads the stream up to its last message at the start, oldest first: every partition, or only the
 * owned ones (an events replica), each through its own subject filter.
 */
async function replayStream(
  broker: Broker,
  settings: JetStreamSettings,
  compactedThrough: Map<string, number>,
  ownedPartitions?: number[],
): Promise<StreamReplay> {
  const events: LoggedEvent[] = [];
  const problems: LogProblem[] = [];
  const callSizes = new Map<string, number>();
  let compacted = 0;
  const onMessage = (m: JsMsg) => {
    if (m.seq <= (compactedThrough.get(dayOfSubject(m.subject)) ?? 0)) {
      compacted++;
      return;
    }
    const event = eventOfMessage(m.string(), m.seq);
    if (typeof event === 'string')
      problems.push({ file: `stream ${settings.stream}`, line: m.seq, kind: 'corrupt', detail: event });
    else {
      events.push(event);
      if (event.logKey) callSizes.set(event.logKey, Number(m.headers?.get(CALL_SIZE_HEADER) ?? 0));
    }
  };
  const filters = ownedPartitions?.map((p) => partitionSubjects(settings.subjectPrefix, p)) ?? [undefined];
  let lastSeq = 0;
  let messages = 0;
  for (const filter of filters) {
    const read = await readStream(broker, settings.stream, onMessage, filter);
    lastSeq = Math.max(lastSeq, read.lastSeq);
    messages += read.messages;
  }
  // Partitions are read one after another: back into sequence order, as one read would give them.
  if (filters.length > 1) events.sort((a, b) => a.seq - b.seq);
  const owned = ownedPartitions ? ` (partitions ${ownedPartitions.join(', ')})` : '';
  return {
    events: setAsidePartlyStoredCalls(events, callSizes, problems, settings.stream),
    problems,
    lastSeq,
    source: `stream ${settings.stream}${owned}: ${messages} messages, ${compacted} already compacted`,
  };
}

function eventOfMessage(text: string, seq: number): LoggedEvent | string {
  try {
    const raw = JSON.parse(text);
    return raw && typeof raw === 'object' ? eventOf({ ...raw, seq }) : 'not a JSON object';
  } catch {
    return 'not valid JSON';
  }
}

/**
 * A keyed call whose messages are not all in the stream was never acknowledged (the broker failed
 * part way). Its stored events are left out of the replay, and its key is not remembered: the
 * client's retry is then written whole and applied once (the broker's duplicate window drops the
 * copies of what the first try stored, and acks them with their first sequence numbers). Without a
 * retry they reach the users' state as history, once compaction has moved them into Parquet.
 */
function setAsidePartlyStoredCalls(
  events: LoggedEvent[],
  callSizes: Map<string, number>,
  problems: LogProblem[],
  stream: string,
): LoggedEvent[] {
  const stored = new Map<string, number>();
  for (const e of events) if (e.logKey) stored.set(e.logKey, (stored.get(e.logKey) ?? 0) + 1);
  const whole = (e: LoggedEvent) => !e.logKey || stored.get(e.logKey)! >= (callSizes.get(e.logKey) ?? 0);
  for (const e of events.filter((e) => !whole(e)))
    problems.push({
      file: `stream ${stream}`,
      line: e.seq,
      kind: 'incomplete',
      detail: `${stored.get(e.logKey!)} of the ${callSizes.get(e.logKey!)} events of the unacknowledged call "${e.logKey}"`,
    });
  return events.filter(whole);
}

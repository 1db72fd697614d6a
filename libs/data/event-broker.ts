// Talking to the JetStream broker that holds the event stream: the events service (which writes and
// replays it) and the stream's compaction (which reads closed days and purges them) connect and read
// it the same way.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { JetStreamSettings } from '../config/mesh.js';

export interface Broker {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** How errors name the broker: its URLs and the stream. */
export function brokerName(settings: JetStreamSettings): string {
  return `the JetStream broker (${settings.servers.join(', ')}, stream ${settings.stream})`;
}

/** Connects; keeps reconnecting after a loss for as long as the connection is open. */
export async function connectToBroker(settings: JetStreamSettings, clientName: string): Promise<Broker> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: settings.servers,
      name: clientName,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: settings.publishTimeoutMs,
    });
  } catch (err) {
    throw new Error(`${brokerName(settings)} cannot be reached: ${(err as Error).message}`);
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: settings.publishTimeoutMs });
    return { nc, js: jetstream(nc, { timeout: settings.publishTimeoutMs }), jsm };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw new Error(`${brokerName(settings)}: ${(err as Error).message}`);
  }
}

/**
 * Reads every message of the stream (or of its subjects matching filter), oldest first, up to the
 * last one it held when the read began; resolves with the stream's last sequence number then (0:
 * it was empty) and how many messages were read.
 */
export async function readStream(
  broker: Broker,
  stream: string,
  onMessage: (m: JsMsg) => void,
  filter?: string,
): Promise<{ lastSeq: number; messages: number }> {
  const { state } = await broker.jsm.streams.info(stream, filter ? { subjects_filter: filter } : undefined);
  // nats-server 2.9 counts a filter's messages per subject.
  const count = filter ? Object.values(state.subjects ?? {}).reduce((sum, n) => sum + n, 0) : state.messages;
  if (count === 0) return { lastSeq: state.last_seq, messages: 0 };
  // One filter subject per consumer: nats-server 2.9 takes no more.
  const consumer = await broker.js.consumers.get(stream, filter ? { filter_subjects: filter } : undefined);
  // Large pulls: replay is bound by round trips to the broker otherwise.
  const messages = await consumer.consume({ max_messages: 5_000 });
  for await (const m of messages) {
    onMessage(m);
    // Pending 0: the stream's end (its last message may have been purged by compaction).
    if (m.seq >= state.last_seq || m.info.pending === 0) break;
  }
  messages.stop();
  return { lastSeq: state.last_seq, messages: count };
}

// How the event stream on a broker (services.events.backend "jetstream") is laid out, shared by the
// events service that writes it and the compaction that turns its closed days into Parquet:
// one stream, subjects <prefix>.<partition>.<day>. The partition (a stable hash of the user id)
// is what events replicas can own; the day lets compaction purge exactly a closed day.

/** The partition of a user: FNV-1a of the id, so every process and language agrees. */
export function partitionOf(userId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(userId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** The subject an event of this partition and UTC day (YYYY-MM-DD) is published to. */
export function eventSubject(prefix: string, partition: number, day: string): string {
  return `${prefix}.${partition}.${day}`;
}

/** Every subject of the stream. */
export function allEventSubjects(prefix: string): string {
  return `${prefix}.>`;
}

/** Every day's subject of one partition (what an events replica owning it replays). */
export function partitionSubjects(prefix: string, partition: number): string {
  return `${prefix}.${partition}.*`;
}

/** Every partition's subject of one day (what compaction purges once the day is in Parquet). */
export function daySubjects(prefix: string, day: string): string {
  return `${prefix}.*.${day}`;
}

/** The day of an event subject. */
export function dayOfSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf('.') + 1);
}

/** The message id of a keyed Log call's event: the broker drops a retry's copy inside its duplicate window. */
export function eventMessageId(idempotencyKey: string, index: number): string {
  return `${idempotencyKey}:${index}`;
}

/** Compacted stream days are Parquet files named stream-<id>.parquet (live-<id> are the file log's). */
export const STREAM_PARQUET_PREFIX = 'stream-';

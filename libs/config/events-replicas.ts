// Events replicas that own user partitions (services.events.replicas, JetStream backend only): which
// replica owns which partition of the stream, checked when the config is read.
import { z } from 'zod';

export const EventsReplicaSchema = z
  .object({
    /** Where the other replicas reach it (host:port, or a DNS target naming this one replica). */
    address: z.string().regex(/:\d+$/, 'must end in :port (host:port)'),
    /** The stream partitions it owns; absent on every replica: partition p belongs to replica p mod N. */
    partitions: z.array(z.number().int().min(0)).min(1).optional(),
  })
  .strict();
export type EventsReplica = z.infer<typeof EventsReplicaSchema>;

/**
 * The owner (replica index) of every partition, or the problems that stop it: each partition owned
 * exactly once, none out of range, partitions set on every replica or on none, no replica without one
 * (listed partitions have at least one each).
 */
export function partitionOwners(
  replicas: EventsReplica[],
  partitions: number,
): { owners: number[] } | { problems: { path: (string | number)[]; message: string }[] } {
  const listed = replicas.filter((r) => r.partitions).length;
  if (listed === 0) {
    // A replica beyond the partition count would own nothing: more replicas than partitions is a mistake.
    if (replicas.length > partitions)
      return {
        problems: [
          {
            path: [],
            message: `${replicas.length} replicas for ${partitions} partitions (services.events.jetstream.partitions): replicas ${partitions}.. would own none`,
          },
        ],
      };
    return { owners: Array.from({ length: partitions }, (_, p) => p % replicas.length) };
  }
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (listed !== replicas.length)
    problems.push({ path: [], message: 'set partitions on every replica or on none (none: p belongs to p mod N)' });
  const owners: (number | undefined)[] = new Array(partitions).fill(undefined);
  replicas.forEach((r, i) =>
    r.partitions?.forEach((p, j) => {
      const path = [i, 'partitions', j];
      if (p >= partitions)
        problems.push({
          path,
          message: `partition ${p} is out of range: the stream has ${partitions} (0..${partitions - 1})`,
        });
      else if (owners[p] !== undefined)
        problems.push({ path, message: `partition ${p} is already owned by replica ${owners[p]}; each is owned once` });
      else owners[p] = i;
    }),
  );
  const orphans = owners.flatMap((o, p) => (o === undefined ? [p] : []));
  if (orphans.length && !problems.length)
    problems.push({ path: [], message: `partitions ${orphans.join(', ')} have no owner; every partition needs one` });
  return problems.length ? { problems } : { owners: owners as number[] };
}

/** This process's place among the replicas: its index, and every partition's owner and address. */
export interface EventsOwnership {
  self: number;
  owners: number[];
  addresses: string[];
}

/**
 * The ownership of replica `index` (from --replica or FEEDLOOM_EVENTS_REPLICA), or undefined when no
 * replicas are configured (one events process owns every partition).
 */
export function eventsOwnershipOf(
  events: { replicas?: EventsReplica[]; jetstream: { partitions: number } },
  index: number | undefined,
): EventsOwnership | undefined {
  const { replicas } = events;
  if (!replicas) return undefined;
  if (index === undefined || !Number.isInteger(index) || index < 0 || index >= replicas.length)
    throw new Error(
      `services.events.replicas lists ${replicas.length} replicas: say which one this process is with ` +
        `--replica INDEX or FEEDLOOM_EVENTS_REPLICA (0..${replicas.length - 1}; got ${index ?? 'none'})`,
    );
  const result = partitionOwners(replicas, events.jetstream.partitions);
  if ('problems' in result) throw new Error(`services.events.replicas: ${result.problems[0].message}`);
  return { self: index, owners: result.owners, addresses: replicas.map((r) => r.address) };
}

/** FEEDLOOM_EVENTS_REPLICA as a replica index (undefined when unset). */
export function replicaIndexFromEnv(env = process.env.FEEDLOOM_EVENTS_REPLICA): number | undefined {
  return env === undefined || env === '' ? undefined : Number(env);
}

/** The replicas whose address is on the mesh's shared host (`up` on one machine), with their ports. */
export function sharedHostReplicas(replicas: EventsReplica[], host: string): { port: number; i: number }[] {
  return replicas.flatMap((r, i) => {
    const [, at, port] = /^(?:.*\/)?([^/]*):(\d+)$/.exec(r.address) ?? [];
    return at === host ? [{ port: Number(port), i }] : [];
  });
}

/** The port this replica listens on: the one in its own address. */
export function replicaPortOf(ownership: EventsOwnership): number {
  return Number(/:(\d+)$/.exec(ownership.addresses[ownership.self])![1]);
}

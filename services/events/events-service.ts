import { EventsService, type LogResponse } from '../../generated/feedloom/v1/events.js';
import { failedPrecondition, resourceExhausted } from '../../libs/bootstrap/errors.js';
import { bindService, startServer, type RunningServer, type ServerSecurity } from '../../libs/bootstrap/server.js';
import type { ServerLimits } from '../../libs/config/server-limits.js';
import { EVENTS_DEFAULT_MAX_IDS, JetStreamSchema, type JetStreamSettings } from '../../libs/config/mesh.js';
import { intOrDefault, optionalId, requireId } from '../../libs/bootstrap/validate.js';
import { validateLogRequest, type EventTimeWindow } from './event-validation.js';
import type { NewEvent } from './live-log.js';
import { openEventLog } from './open-event-log.js';
import type { IdTable } from './id-table.js';
import { AckedCalls } from './acked-calls.js';
import { MAX_RECENT_ACTIONS } from './user-state.js';
import { loadWorldHistory } from './world-history.js';
import { worldClock } from './world-clock.js';
import { takeWorldWriter, type WorldWriter } from './world-writer.js';
import { dayKey } from '../../libs/data/world.js';
import type { ChannelSecurity } from '../../libs/bootstrap/client.js';
import type { EventsOwnership } from '../../libs/config/events-replicas.js';
import { OwnerRouting } from './owner-routing.js';

export const DEFAULT_MAX_ACTIONS = 100;
/** Days of live events a start-up replays without a warning (compaction runs daily). */
const MAX_LIVE_DAYS_QUIETLY = 3;

export interface EventsOptions {
  /** The world directory (absolute or relative to the working directory). */
  worldDir: string;
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** The admin listener (GetUserContext for operators); default 0: any free port. */
  adminPort?: number;
  limits?: ServerLimits;
  /** Tokens and TLS; absent: GetUserContext is refused to every caller. */
  security?: ServerSecurity;
  /** Where Log's event times may lie around now (services.events of the mesh config); defaults when absent. */
  eventTimes?: EventTimeWindow;
  /**
   * Serve the world as it was at this time (evaluation, replays): history and live events from
   * later are left out, the clock starts here, and Log is refused, since the live log belongs to
   * the world's present.
   */
  asOfMs?: number;
  /** Impressions older than this (before the request time) are not in seen_items; 0 or absent: all retained. */
  seenWindowMs?: number;
  /** Ids (users, items, boards) held in memory at most; Log calls adding more are refused (services.events.maxIds). */
  maxIds?: number;
  /** Simulated ms per wall ms of the world clock (world.clockSpeed); default 1. */
  clockSpeed?: number;
  /** Where acknowledged events are kept (services.events.backend); default "file", the world's live log. */
  backend?: 'file' | 'jetstream';
  /** The broker and stream of the "jetstream" backend (services.events.jetstream); defaults when absent. */
  jetstream?: JetStreamSettings;
  /**
   * This replica's partitions among several (services.events.replicas, JetStream backend only): it
   * keeps only its users and forwards calls for the others to their owner over `channel`.
   */
  owners?: { ownership: EventsOwnership; channel: ChannelSecurity };
  /** Where start-up notes and skipped log lines are reported; stderr by default. */
  report?: (line: string) => void;
}

/**
 * Starts the Events service: loads the world's history, replays the live log on top, then serves
 * Log and GetUserContext. stop() drains calls, then finishes pending log writes and closes the log.
 */
export async function startEvents(options: EventsOptions): Promise<RunningServer> {
  const report = options.report ?? ((line: string) => console.error(`[events] ${line}`));
  const started = performance.now();
  const { asOfMs } = options;
  // A world served as of an earlier time takes no events, so it needs no writer lock.
  const writer: WorldWriter =
    asOfMs === undefined
      ? await takeWorldWriter(options.worldDir, report, options.owners?.ownership.self)
      : { release: async () => {} };
  try {
    return await serveEvents(options, report, writer, started);
  } catch (err) {
    await writer.release();
    throw err;
  }
}

async function serveEvents(
  options: EventsOptions,
  report: (line: string) => void,
  writer: WorldWriter,
  started: number,
): Promise<RunningServer> {
  const { asOfMs } = options;
  if (options.owners && options.backend !== 'jetstream')
    throw new Error(
      'services.events.replicas: replicas own partitions of the JetStream stream; set backend "jetstream"',
    );
  const routing =
    options.owners &&
    new OwnerRouting(
      options.owners.ownership,
      (options.jetstream ?? JetStreamSchema.parse({})).partitions,
      options.owners.channel,
    );
  const owns = routing && ((userId: string) => routing.owns(userId));
  const history = await loadWorldHistory(options.worldDir, { asOfMs, ownsUser: owns });
  const { store, worldEndMs, historyEvents } = history;
  const { log, replay } = await openEventLog(options.worldDir, history, {
    ...options,
    ownedPartitions: routing?.ownedPartitions,
  });
  // Live files of a file-backed past hold every user: a replica keeps its own.
  const replayed = owns ? replay.events.filter((e) => owns(e.userId)) : replay.events;
  const acked = AckedCalls.fromLog(replayed);
  const liveEvents = asOfMs === undefined ? replayed : replayed.filter((e) => e.timeMs < asOfMs);
  for (const event of liveEvents) store.apply(event);
  for (const p of replay.problems)
    report(
      p.kind === 'incomplete'
        ? `${p.file} seq ${p.line}: ${p.detail} (not replayed; a retry with its key completes it)`
        : `skipped ${p.kind} line ${p.file}:${p.line}: ${p.detail}`,
    );
  // Start-up replays the whole live log; the scheduler's daily compaction keeps it to a day or two.
  const liveDays = new Set(replayed.map((e) => dayKey(e.timeMs))).size;
  if (liveDays > MAX_LIVE_DAYS_QUIETLY)
    report(
      `the live log holds events of ${liveDays} days not compacted into Parquet, all replayed at every start: is schedule.compaction on?`,
    );
  // Continue where the live log left off, so time never runs backwards across restarts: from the
  // service's own clock when it took the newest call, not the event times clients chose (one up to
  // maxEventFutureMs ahead would otherwise move every restart's clock that far).
  const now = worldClock(
    asOfMs ?? replayed.reduce((max, e) => Math.max(max, e.receivedMs ?? e.timeMs), worldEndMs),
    options.clockSpeed,
  );
  report(
    `${routing ? `replica ${routing.self} of ${options.owners!.ownership.addresses.length}: ` : ''}` +
      `loaded ${store.userCount} users, ${historyEvents} history events and ${liveEvents.length} live events ` +
      `(${replay.source}, last seq ${log.lastSequence})${asOfMs === undefined ? '' : ` as of ${new Date(asOfMs).toISOString()}`} ` +
      `in ${Math.round(performance.now() - started)} ms`,
  );

  const binding = bindService(
    EventsService,
    {
      log: async (request, ctx): Promise<LogResponse> => {
        const receivedMs = now();
        const events = validateLogRequest(request, receivedMs, options.eventTimes);
        if (asOfMs !== undefined)
          throw failedPrecondition(
            `this events service serves the world as of ${new Date(asOfMs).toISOString()} and takes no new events`,
          );
        const key = optionalId('idempotency_key', request.idempotencyKey);
        const logHere = async (mine: NewEvent[], key: string): Promise<LogResponse> => {
          if (writer.refusal) throw writer.refusal;
          refuseNewIdsPastCap(store.ids, mine, options.maxIds ?? EVENTS_DEFAULT_MAX_IDS);
          const write = async () => {
            const logged = await log.append(mine.map((e) => ({ ...e, receivedMs, ...(key && { logKey: key }) })));
            for (const event of logged) store.apply(event);
            return { accepted: logged.length, lastSequence: logged[logged.length - 1].seq };
          };
          return key ? acked.answer(key, mine, write) : { ...(await write()), duplicate: false };
        };
        const parts = routing?.split(events.map((e) => e.userId));
        if (!routing || !parts || (parts.length === 1 && parts[0].owner === routing.self)) return logHere(events, key);
        if (routing.isForwarded(ctx.metadata))
          throw routing.notOwned(events.find((e) => !routing.owns(e.userId))!.userId);
        return routing.logInParts(request, key, parts, ctx, (indices, partKey) =>
          logHere(
            indices.map((i) => events[i]),
            partKey,
          ),
        );
      },
      getUserContext: async (request, ctx) => {
        const userId = requireId('user_id', request.userId);
        const maxActions = intOrDefault('max_actions', request.maxActions, DEFAULT_MAX_ACTIONS, MAX_RECENT_ACTIONS);
        if (routing && !routing.owns(userId)) {
          if (routing.isForwarded(ctx.metadata)) throw routing.notOwned(userId);
          return routing.forwardGetUserContext(routing.ownerOf(userId), request, ctx);
        }
        return store.context(userId, maxActions, now(), options.seenWindowMs);
      },
    },
    // A user's whole recent history: only for the mesh (the blender) and operators.
    { getUserContext: () => true },
  );
  const server = await startServer({
    name: 'events',
    host: options.host,
    port: options.port,
    limits: options.limits,
    services: [binding],
    security: options.security,
    admin: { port: options.adminPort ?? 0, services: [binding] },
  }).catch(async (err) => {
    // A broker connection left open would keep reconnecting, and the process alive, forever.
    routing?.close();
    await log.close();
    throw err;
  });
  return {
    ...server,
    async stop(graceMs?: number) {
      await server.stop(graceMs);
      routing?.close();
      await log.close();
      await writer.release();
    },
  };
}

/** Refuses a Log call whose new ids would take the id table past its cap; known ids always pass. */
function refuseNewIdsPastCap(ids: IdTable, events: NewEvent[], maxIds: number): void {
  const fresh = new Set<string>();
  for (const e of events)
    for (const id of [e.userId, e.itemId, e.boardId]) if (id && ids.find(id) === undefined) fresh.add(id);
  if (fresh.size > 0 && ids.size + fresh.size > maxIds)
    throw resourceExhausted(
      `events: this service holds ${ids.size} ids and takes at most ${maxIds} (services.events.maxIds); ` +
        `the call's ${fresh.size} new user, item or board id(s) are refused, events on known ids are still taken`,
    );
}

import { EventsService, type LogResponse } from '../../generated/feedloom/v1/events.js';
import { failedPrecondition } from '../../libs/bootstrap/errors.js';
import { bindService, startServer, type RunningServer, type ServerSecurity } from '../../libs/bootstrap/server.js';
import type { ServerLimits } from '../../libs/config/server-limits.js';
import { intOrDefault, optionalId, requireId } from '../../libs/bootstrap/validate.js';
import { validateLogRequest, type EventTimeWindow } from './event-validation.js';
import { LiveLog } from './live-log.js';
import { AckedCalls } from './acked-calls.js';
import { MAX_RECENT_ACTIONS } from './user-state.js';
import { loadWorldHistory } from './world-history.js';
import { worldClock } from './world-clock.js';

export const DEFAULT_MAX_ACTIONS = 100;

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
  /** Simulated ms per wall ms of the world clock (world.clockSpeed); default 1. */
  clockSpeed?: number;
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
  const { store, worldEndMs, historyEvents, compactedSeq } = await loadWorldHistory(options.worldDir, { asOfMs });
  const { log, replay } = await LiveLog.open(options.worldDir, compactedSeq);
  const acked = AckedCalls.fromLog(replay.events);
  const liveEvents = asOfMs === undefined ? replay.events : replay.events.filter((e) => e.timeMs < asOfMs);
  for (const event of liveEvents) store.apply(event);
  for (const p of replay.problems) report(`skipped ${p.kind} line ${p.file}:${p.line}: ${p.detail}`);
  // Continue where the live log left off, so time never runs backwards across restarts.
  const now = worldClock(
    asOfMs ?? replay.events.reduce((max, e) => Math.max(max, e.timeMs), worldEndMs),
    options.clockSpeed,
  );
  report(
    `loaded ${store.userCount} users, ${historyEvents} history events and ${liveEvents.length} live events ` +
      `(${replay.files} files, last seq ${log.lastSequence})${asOfMs === undefined ? '' : ` as of ${new Date(asOfMs).toISOString()}`} ` +
      `in ${Math.round(performance.now() - started)} ms`,
  );

  const binding = bindService(
    EventsService,
    {
      log: async (request): Promise<LogResponse> => {
        const events = validateLogRequest(request, now(), options.eventTimes);
        if (asOfMs !== undefined)
          throw failedPrecondition(
            `this events service serves the world as of ${new Date(asOfMs).toISOString()} and takes no new events`,
          );
        const key = optionalId('idempotency_key', request.idempotencyKey);
        const write = async () => {
          const logged = await log.append(key ? events.map((e) => ({ ...e, logKey: key })) : events);
          for (const event of logged) store.apply(event);
          return { accepted: logged.length, lastSequence: logged[logged.length - 1].seq };
        };
        return key ? acked.answer(key, events, write) : { ...(await write()), duplicate: false };
      },
      getUserContext: async (request) => {
        const userId = requireId('user_id', request.userId);
        const maxActions = intOrDefault('max_actions', request.maxActions, DEFAULT_MAX_ACTIONS, MAX_RECENT_ACTIONS);
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
  });
  return {
    ...server,
    async stop(graceMs?: number) {
      await server.stop(graceMs);
      await log.close();
    },
  };
}

import { ActionType } from '../../generated/feedloom/v1/common.js';
import type { LogRequest } from '../../generated/feedloom/v1/events.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { optionalId, requireEnum, requireId, requireMaxItems, requireTimeMs } from '../../libs/bootstrap/validate.js';
import { actionNameOf } from './action-names.js';
import { DAY_MS } from '../../libs/data/world.js';
import { EVENT_TIME_DEFAULTS, type MeshConfig } from '../../libs/config/mesh.js';
import type { NewEvent } from './live-log.js';

export const MAX_EVENTS_PER_LOG = 1000;

/** Where a Log call's event times may lie around the server's now (services.events of the mesh config). */
export type EventTimeWindow = Pick<
  MeshConfig['services']['events'],
  'maxEventAgeDays' | 'maxEventFutureMs' | 'maxDaysPerLog'
>;

/** Checks a whole Log request (all or nothing) and resolves time 0 to the world clock's now. */
export function validateLogRequest(
  request: Pick<LogRequest, 'events'>,
  nowMs: number,
  window: EventTimeWindow = EVENT_TIME_DEFAULTS,
): NewEvent[] {
  requireMaxItems('events', request.events, MAX_EVENTS_PER_LOG, 1);
  const events = request.events.map((event, i) => {
    const field = (name: string) => `events[${i}].${name}`;
    const userId = requireId(field('user_id'), event.userId);
    const itemId = requireId(field('item_id'), event.itemId);
    const action = requireEnum(field('action'), event.action, ActionType) as ActionType;
    const timeMs = requireTimeMs(field('time_ms'), event.timeMs);
    // Not from the future (it would move the clock of everyone reading the log), nor from long ago
    // (events planted in a closed day and the training window); send 0 to mean now.
    if (timeMs > nowMs + window.maxEventFutureMs) {
      throw invalidArgument(
        field('time_ms'),
        `must be at most ${window.maxEventFutureMs} ms after the server's now (now ${nowMs}, got ${timeMs}; services.events.maxEventFutureMs); send 0 to mean now`,
      );
    }
    if (timeMs !== 0 && timeMs < nowMs - window.maxEventAgeDays * DAY_MS) {
      throw invalidArgument(
        field('time_ms'),
        `must be at most ${window.maxEventAgeDays} days before the server's now (now ${nowMs}, got ${timeMs}; services.events.maxEventAgeDays); send 0 to mean now`,
      );
    }
    const boardId = optionalId(field('board_id'), event.boardId);
    if (boardId && action !== ActionType.ACTION_TYPE_SAVE) {
      throw invalidArgument(field('board_id'), `only a save has a board (this event is ${ActionType[action]})`);
    }
    return {
      userId,
      itemId,
      action: actionNameOf(action),
      timeMs: timeMs || nowMs,
      boardId,
      source: optionalId(field('source'), event.source),
      requestId: optionalId(field('request_id'), event.requestId),
    };
  });
  // Each day is a directory and its own fsyncs in the live log: a few per call at most.
  const days = new Set(events.map((e) => Math.floor(e.timeMs / DAY_MS))).size;
  if (days > window.maxDaysPerLog) {
    throw invalidArgument(
      'events',
      `must fall on at most ${window.maxDaysPerLog} distinct days per call (got ${days}; services.events.maxDaysPerLog)`,
    );
  }
  return events;
}

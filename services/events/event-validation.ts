import { ActionType } from '../../generated/feedloom/v1/common.js';
import type { LogRequest } from '../../generated/feedloom/v1/events.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { optionalId, requireEnum, requireId, requireMaxItems, requireTimeMs } from '../../libs/bootstrap/validate.js';
import { actionNameOf } from './action-names.js';
import type { NewEvent } from './live-log.js';

export const MAX_EVENTS_PER_LOG = 1000;
// An event may carry its own time, but not one from the world's future: that would move the
// clock of everyone reading the log. A day of slack allows for skewed client clocks.
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;

/** Checks a whole Log request (all or nothing) and resolves time 0 to the world clock's now. */
export function validateLogRequest(request: Pick<LogRequest, 'events'>, nowMs: number): NewEvent[] {
  requireMaxItems('events', request.events, MAX_EVENTS_PER_LOG, 1);
  return request.events.map((event, i) => {
    const field = (name: string) => `events[${i}].${name}`;
    const userId = requireId(field('user_id'), event.userId);
    const itemId = requireId(field('item_id'), event.itemId);
    const action = requireEnum(field('action'), event.action, ActionType) as ActionType;
    const timeMs = requireTimeMs(field('time_ms'), event.timeMs);
    if (timeMs > nowMs + MAX_FUTURE_SKEW_MS) {
      throw invalidArgument(
        field('time_ms'),
        `must not be more than a day ahead of the world clock (now ${nowMs}, got ${timeMs}); send 0 to mean now`,
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
}

import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import type { Event } from '../../generated/feedloom/v1/events.js';
import { RpcError } from '../../libs/bootstrap/errors.js';
import { DAY_MS } from '../../libs/data/world.js';
import { EVENT_TIME_DEFAULTS } from '../../libs/config/mesh.js';
import { validateLogRequest } from './event-validation.js';

const NOW = Date.UTC(2026, 1, 1);
const event = (overrides: Partial<Event> = {}): Event => ({
  userId: 'u1',
  itemId: 'i1',
  action: ActionType.ACTION_TYPE_CLICK,
  timeMs: 0,
  boardId: '',
  source: '',
  requestId: '',
  ...overrides,
});

function rejection(events: Event[]): RpcError {
  try {
    validateLogRequest({ events }, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(status.INVALID_ARGUMENT);
    return err as RpcError;
  }
  throw new Error('expected the request to be rejected');
}

describe('validateLogRequest', () => {
  it('accepts good events, stamping time 0 with the world clock', () => {
    const out = validateLogRequest(
      {
        events: [
          event(),
          event({
            action: ActionType.ACTION_TYPE_SAVE,
            boardId: 'b7',
            timeMs: NOW - 5,
            source: 'popular',
            requestId: 'r1',
          }),
        ],
      },
      NOW,
    );
    expect(out).toEqual([
      { userId: 'u1', itemId: 'i1', action: 'click', timeMs: NOW, boardId: '', source: '', requestId: '' },
      {
        userId: 'u1',
        itemId: 'i1',
        action: 'save',
        timeMs: NOW - 5,
        boardId: 'b7',
        source: 'popular',
        requestId: 'r1',
      },
    ]);
  });

  it('names the field and the rule that was broken', () => {
    const good = [event(), event(), event()];
    expect(rejection([...good, event({ action: ActionType.ACTION_TYPE_UNSPECIFIED })]).message).toBe(
      'events[3].action: must be one of ACTION_TYPE_IMPRESSION, ACTION_TYPE_CLICK, ACTION_TYPE_SAVE, ACTION_TYPE_HIDE (got 0)',
    );
    expect(rejection([event({ action: 7 as ActionType })]).message).toMatch(
      /^events\[0\]\.action: must be one of .*\(got 7\)$/,
    );
    expect(rejection([event(), event({ userId: '' })]).message).toBe(
      'events[1].user_id: is required and must not be empty',
    );
    expect(rejection([event({ itemId: 'x'.repeat(300) })]).message).toMatch(
      /^events\[0\]\.item_id: must be at most 256 characters/,
    );
    expect(rejection([event({ timeMs: -5 })]).message).toMatch(
      /^events\[0\]\.time_ms: must be milliseconds since the Unix epoch/,
    );
    expect(rejection([event({ timeMs: NOW + EVENT_TIME_DEFAULTS.maxEventFutureMs + 1 })]).message).toMatch(
      /^events\[0\]\.time_ms: must be at most 86400000 ms after the server's now .*services\.events\.maxEventFutureMs/,
    );
    expect(rejection([event({ boardId: 'b1' })]).message).toBe(
      'events[0].board_id: only a save has a board (this event is ACTION_TYPE_CLICK)',
    );
    expect(rejection([event({ action: ActionType.ACTION_TYPE_SAVE, boardId: 'b\u0001' })]).message).toMatch(
      /^events\[0\]\.board_id: must be valid UTF-8/,
    );
    expect(rejection([event({ source: 'bad\nsource' })]).message).toMatch(/^events\[0\]\.source:/);
  });

  it('takes 1 to 1000 events', () => {
    expect(rejection([]).message).toBe('events: must hold at least 1 item(s)');
    expect(rejection(Array.from({ length: 1001 }, () => event())).message).toBe(
      'events: must hold at most 1000 items (got 1001)',
    );
    expect(validateLogRequest({ events: Array.from({ length: 1000 }, () => event()) }, NOW)).toHaveLength(1000);
  });

  // A client must not plant events far in the past (the training window) or touch many day
  // partitions in one call (a directory and fsyncs per day, stalling every writer).
  it('takes event times only within the window around now that the config sets', () => {
    const at = (timeMs: number) => event({ timeMs });
    expect(rejection([event(), at(NOW - 8 * DAY_MS)]).message).toMatch(
      /^events\[1\]\.time_ms: must be at most 7 days before the server's now .*services\.events\.maxEventAgeDays/,
    );
    expect(rejection([at(Date.UTC(2000, 0, 1))]).message).toMatch(
      /^events\[0\]\.time_ms: must be at most 7 days before/,
    );
    expect(validateLogRequest({ events: [at(NOW - 7 * DAY_MS)] }, NOW)).toHaveLength(1);
    const window = { maxEventAgeDays: 30, maxEventFutureMs: 1_000, maxDaysPerLog: 3 };
    expect(validateLogRequest({ events: [at(NOW - 20 * DAY_MS)] }, NOW, window)).toHaveLength(1);
    expect(() => validateLogRequest({ events: [at(NOW + 2_000)] }, NOW, window)).toThrow(
      /^events\[0\]\.time_ms: must be at most 1000 ms after/,
    );
  });

  it('takes events of a few distinct days per call at most', () => {
    const days = (n: number) => Array.from({ length: n }, (_, d) => event({ timeMs: NOW - d * DAY_MS }));
    expect(validateLogRequest({ events: days(3) }, NOW)).toHaveLength(3);
    expect(rejection(days(4)).message).toBe(
      'events: must fall on at most 3 distinct days per call (got 4; services.events.maxDaysPerLog)',
    );
  });
});

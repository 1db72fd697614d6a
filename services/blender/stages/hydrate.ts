import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { messageOf } from '../../../libs/bootstrap/errors.js';
import { keepValidEntries } from '../../../libs/bootstrap/user-context.js';
import { UserContext as UserContextMessage } from '../../../generated/feedloom/v1/common.js';

export interface Hydrated {
  user: UserContext;
  /** False when the events service did not answer and the context is empty. */
  fetched: boolean;
  /** Set when the context could not be fetched, or parts of it were dropped. */
  warning?: string;
}

// Reasons named in the warning; the rest are counted.
const MAX_NAMED_REASONS = 3;

/**
 * Stage 1: the viewer's context, fetched once and shared by every generator. If the events
 * service fails or is late, the feed degrades to unpersonalized rather than failing. Only entries
 * that validate are passed on: one malformed entry would otherwise fail every generator.
 */
export async function hydrate(
  events: EventsClient,
  userId: string,
  options: { timeoutMs: number; requestId: string; signal?: AbortSignal },
): Promise<Hydrated> {
  let answer: UserContext;
  try {
    answer = await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, options);
  } catch (err) {
    const reason = messageOf(err);
    return {
      fetched: false,
      user: UserContextMessage.fromPartial({ userId, requestTimeMs: Date.now() }),
      warning: `user context unavailable (${reason}); served unpersonalized`,
    };
  }
  const { user, dropped } = keepValidEntries('user', { ...answer, userId });
  if (dropped.length === 0) return { user, fetched: true };
  const named = dropped.slice(0, MAX_NAMED_REASONS).join('; ');
  const more = dropped.length > MAX_NAMED_REASONS ? `; and ${dropped.length - MAX_NAMED_REASONS} more` : '';
  return {
    user,
    fetched: true,
    warning: `user context: dropped ${dropped.length} malformed entr${dropped.length === 1 ? 'y' : 'ies'} (${named}${more}); served the rest`,
  };
}

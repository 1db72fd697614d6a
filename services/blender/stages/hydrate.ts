import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { UserContext as UserContextMessage } from '../../../generated/feedloom/v1/common.js';

export interface Hydrated {
  user: UserContext;
  /** Set when the context could not be fetched and the feed is served unpersonalized. */
  warning?: string;
}

/**
 * Stage 1: the viewer's context, fetched once and shared by every generator. If the events
 * service fails or is late, the feed degrades to unpersonalized rather than failing.
 */
export async function hydrate(events: EventsClient, userId: string, options: { timeoutMs: number; requestId: string; signal?: AbortSignal }): Promise<Hydrated> {
  try {
    return { user: await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, options) };
  } catch (err) {
    const reason = (err as { details?: string }).details || (err as Error).message;
    return {
      user: UserContextMessage.fromPartial({ userId, requestTimeMs: Date.now() }),
      warning: `user context unavailable (${reason}); served unpersonalized`,
    };
  }
}

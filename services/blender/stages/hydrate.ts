import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { EventsClient } from '../../../generated/feedloom/v1/events.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { unavailable } from '../../../libs/bootstrap/errors.js';

/** Stage 1: the viewer's context, fetched once and shared by every generator. */
export async function hydrate(events: EventsClient, userId: string, options: { timeoutMs: number; requestId: string; signal?: AbortSignal }): Promise<UserContext> {
  try {
    return await callUnary(events, 'getUserContext', { userId, maxActions: 100 }, options);
  } catch (err) {
    // Without the user's context no generator can personalize; say so rather than serve garbage.
    throw unavailable(`cannot hydrate user ${userId}: events service answered ${(err as Error).message}`);
  }
}

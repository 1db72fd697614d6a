import { ActionType, type UserContext } from '../../generated/feedloom/v1/common.js';
import type { GenerateRequest } from '../../generated/feedloom/v1/generator.js';
import { invalidArgument } from '../bootstrap/errors.js';
import { optionalId, requireEnum, requireId, requireIntInRange, requireMaxItems, requireTimeMs } from '../bootstrap/validate.js';

export const MAX_QUOTA = 10_000;
const MAX_LIST = 2_000;

/** Checks a UserContext field by field; `field` is its path in the request. */
export function validateUserContext(field: string, user: UserContext | undefined): UserContext {
  if (!user) throw invalidArgument(field, 'is required');
  requireId(`${field}.user_id`, user.userId);
  requireMaxItems(`${field}.recent_actions`, user.recentActions, MAX_LIST);
  user.recentActions.forEach((a, i) => {
    requireId(`${field}.recent_actions[${i}].item_id`, a.itemId);
    requireEnum(`${field}.recent_actions[${i}].type`, a.type, ActionType);
    requireTimeMs(`${field}.recent_actions[${i}].time_ms`, a.timeMs);
    optionalId(`${field}.recent_actions[${i}].board_id`, a.boardId);
  });
  for (const list of ['followedCreators', 'followedBoards', 'topics', 'ownBoards', 'blockedCreators', 'seenItems'] as const) {
    const snake = list.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    requireMaxItems(`${field}.${snake}`, user[list], MAX_LIST);
    user[list].forEach((id, i) => requireId(`${field}.${snake}[${i}]`, id));
  }
  optionalId(`${field}.locale`, user.locale);
  requireTimeMs(`${field}.request_time_ms`, user.requestTimeMs);
  return user;
}

export function validateGenerateRequest(request: GenerateRequest): GenerateRequest {
  validateUserContext('user', request.user);
  requireIntInRange('quota', request.quota, 1, MAX_QUOTA);
  optionalId('request_id', request.requestId);
  return request;
}

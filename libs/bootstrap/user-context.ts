// The UserContext every service is handed (generators, ranker, viewer; the blender hydrates it):
// checked field by field, the first problem answered INVALID_ARGUMENT naming its path.
import { ActionType, type Action, type ItemFilter, type UserContext } from '../../generated/feedloom/v1/common.js';
import { invalidArgument } from './errors.js';
import {
  checkNamingOnFailure,
  entry,
  optionalId,
  requireEnum,
  requireId,
  requireIntInRange,
  requireMaxItems,
  requireTimeMs,
  sub,
} from './validate.js';

const MAX_LIST = 2_000;
/** The engaged filter's size limit: 6,553 items at 10 bits each (the events service keeps at most 5,000). */
export const MAX_ENGAGED_FILTER_BYTES = 8_192;
const MAX_FILTER_HASHES = 16;

const ID_LISTS = ['followedCreators', 'followedBoards', 'topics', 'ownBoards', 'blockedCreators', 'seenItems'] as const;
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const SNAKE_CASE = Object.fromEntries(ID_LISTS.map((l) => [l, snakeCase(l)])) as Record<
  (typeof ID_LISTS)[number],
  string
>;

function validateAction(field: string, a: Action): void {
  requireId(sub(field, 'item_id'), a.itemId);
  requireEnum(sub(field, 'type'), a.type, ActionType);
  requireTimeMs(sub(field, 'time_ms'), a.timeMs);
  optionalId(sub(field, 'board_id'), a.boardId);
}

function validateItemFilter(field: string, filter: ItemFilter | undefined): void {
  if (!filter) return;
  if (filter.bits.length > MAX_ENGAGED_FILTER_BYTES) {
    throw invalidArgument(
      `${field}.bits`,
      `must be at most ${MAX_ENGAGED_FILTER_BYTES} bytes (got ${filter.bits.length})`,
    );
  }
  if (filter.bits.length > 0) requireIntInRange(`${field}.hash_count`, filter.hashCount, 1, MAX_FILTER_HASHES);
}

/** Checks a UserContext field by field; `field` is its path in the request. */
export function validateUserContext(field: string, user: UserContext | undefined): UserContext {
  if (!user) throw invalidArgument(field, 'is required');
  checkNamingOnFailure(field, (path) => {
    requireId(sub(path, 'user_id'), user.userId);
    requireMaxItems(sub(path, 'recent_actions'), user.recentActions, MAX_LIST);
    for (let i = 0; i < user.recentActions.length; i++)
      validateAction(entry(path, 'recent_actions', i), user.recentActions[i]);
    for (const list of ID_LISTS) {
      const snake = SNAKE_CASE[list];
      const ids = user[list];
      requireMaxItems(sub(path, snake), ids, MAX_LIST);
      for (let i = 0; i < ids.length; i++) requireId(entry(path, snake, i), ids[i]);
    }
    optionalId(sub(path, 'locale'), user.locale);
    requireTimeMs(sub(path, 'request_time_ms'), user.requestTimeMs);
    validateItemFilter(sub(path, 'engaged_filter'), user.engagedFilter);
  });
  return user;
}

/** Runs one check; its INVALID_ARGUMENT message when it fails. */
function problem(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The parts of a context that validate, and why each other part was dropped: one malformed entry
 * then costs that entry, not every generator's answer. Lists over their limit are cut to it.
 * The result passes validateUserContext, provided the user id does.
 */
export function keepValidEntries(field: string, user: UserContext): { user: UserContext; dropped: string[] } {
  const dropped: string[] = [];
  const keep = <T>(items: T[], name: string, check: (item: T, at: string) => void): T[] => {
    const kept = items.filter((item, i) => {
      const why =
        i < MAX_LIST
          ? problem(() => check(item, `${field}.${name}[${i}]`))
          : `${field}.${name}[${i}]: over the list limit of ${MAX_LIST}`;
      if (why) dropped.push(why);
      return !why;
    });
    return kept.length === items.length ? items : kept;
  };
  const clean: UserContext = {
    ...user,
    recentActions: keep(user.recentActions, 'recent_actions', (a, at) => validateAction(at, a)),
  };
  for (const list of ID_LISTS) clean[list] = keep(user[list], snakeCase(list), (id, at) => requireId(at, id));
  const scalar = (check: () => unknown, reset: () => void) => {
    const why = problem(check);
    if (why) (dropped.push(why), reset());
  };
  scalar(
    () => optionalId(`${field}.locale`, user.locale),
    () => (clean.locale = ''),
  );
  scalar(
    () => requireTimeMs(`${field}.request_time_ms`, user.requestTimeMs),
    () => (clean.requestTimeMs = 0),
  );
  scalar(
    () => validateItemFilter(`${field}.engaged_filter`, user.engagedFilter),
    () => (clean.engagedFilter = undefined),
  );
  return { user: clean, dropped };
}

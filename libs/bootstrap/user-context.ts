// The UserContext every service is handed (generators, ranker, viewer; the blender hydrates it):
// checked field by field, the first problem answered INVALID_ARGUMENT naming its path.
import { ActionType, type Action, type ItemFilter, type UserContext } from '../../generated/feedloom/v1/common.js';
import { invalidArgument } from './errors.js';
import { optionalId, requireEnum, requireId, requireIntInRange, requireMaxItems, requireTimeMs } from './validate.js';

const MAX_LIST = 2_000;
/** The engaged filter's size limit: 6,553 items at 10 bits each (the events service keeps at most 5,000). */
export const MAX_ENGAGED_FILTER_BYTES = 8_192;
const MAX_FILTER_HASHES = 16;

const ID_LISTS = ['followedCreators', 'followedBoards', 'topics', 'ownBoards', 'blockedCreators', 'seenItems'] as const;
const snakeCase = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function validateAction(field: string, a: Action): void {
  requireId(`${field}.item_id`, a.itemId);
  requireEnum(`${field}.type`, a.type, ActionType);
  requireTimeMs(`${field}.time_ms`, a.timeMs);
  optionalId(`${field}.board_id`, a.boardId);
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
  requireId(`${field}.user_id`, user.userId);
  requireMaxItems(`${field}.recent_actions`, user.recentActions, MAX_LIST);
  user.recentActions.forEach((a, i) => validateAction(`${field}.recent_actions[${i}]`, a));
  for (const list of ID_LISTS) {
    const snake = snakeCase(list);
    requireMaxItems(`${field}.${snake}`, user[list], MAX_LIST);
    user[list].forEach((id, i) => requireId(`${field}.${snake}[${i}]`, id));
  }
  optionalId(`${field}.locale`, user.locale);
  requireTimeMs(`${field}.request_time_ms`, user.requestTimeMs);
  validateItemFilter(`${field}.engaged_filter`, user.engagedFilter);
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

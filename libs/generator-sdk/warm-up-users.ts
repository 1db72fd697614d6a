import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';

/** Ids of each kind taken from a generator's snapshot rows, by the column names the batch jobs use. */
const KINDS = {
  items: /^item(_id|_a|_b)?$|^src$/,
  creators: /^creator(_id)?$/,
  boards: /^board(_id)?$/,
  topics: /^topic(_id)?$/,
  locales: /^locale$/,
} as const;
type Kind = keyof typeof KINDS;

const PER_KIND = 8;
const ROWS_LOOKED_AT = 200;

/**
 * The synthetic viewers a generator is warmed up with (libs/bootstrap/warm-up.ts): one with no
 * history (the cold-start path), and, when its snapshots name any, one whose recent clicks,
 * follows, topics and locale are ids from those snapshots (the personal path).
 */
export function warmUpUsers(rows: Record<string, readonly unknown[]>, nowMs = Date.now()): UserContext[] {
  const found: Record<Kind, Set<string>> = {
    items: new Set(),
    creators: new Set(),
    boards: new Set(),
    topics: new Set(),
    locales: new Set(),
  };
  for (const table of Object.values(rows)) {
    for (const row of table.slice(0, ROWS_LOOKED_AT)) {
      if (!row || typeof row !== 'object') continue;
      for (const [column, value] of Object.entries(row)) {
        const kind = (Object.keys(KINDS) as Kind[]).find((k) => KINDS[k].test(column));
        if (kind && typeof value === 'string' && value && found[kind].size < PER_KIND) found[kind].add(value);
      }
    }
  }
  const cold = UserContext.fromPartial({ userId: '__warm_up__', requestTimeMs: nowMs });
  if (found.items.size + found.creators.size + found.boards.size + found.topics.size === 0) return [cold];
  const personal = UserContext.fromPartial({
    userId: '__warm_up_personal__',
    requestTimeMs: nowMs,
    recentActions: [...found.items].map((itemId, i) => ({
      itemId,
      type: ActionType.ACTION_TYPE_CLICK,
      timeMs: nowMs - (i + 1) * 60_000,
    })),
    followedCreators: [...found.creators],
    followedBoards: [...found.boards],
    topics: [...found.topics],
    locale: [...found.locales][0] ?? '',
  });
  return [cold, personal];
}

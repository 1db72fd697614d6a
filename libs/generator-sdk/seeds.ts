import { ActionType, type UserContext } from '../../generated/feedloom/v1/common.js';
import { ItemFilterReader } from './item-filter.js';

/** An item the user engaged with, weighted by action type and recency. */
export interface Seed {
  itemId: string;
  weight: number;
}

const ACTION_WEIGHT: Partial<Record<ActionType, number>> = {
  [ActionType.ACTION_TYPE_SAVE]: 2,
  [ActionType.ACTION_TYPE_CLICK]: 1,
};

/**
 * The user's recent positive engagements as seeds for graph walks and lookups: saves count more
 * than clicks, newer more than older (half-life in hours), repeats add up. Hidden items are never seeds.
 */
export function engagementSeeds(user: UserContext, maxSeeds: number, halfLifeHours = 48): Seed[] {
  const hidden = hiddenItems(user);
  const now = user.requestTimeMs || Math.max(0, ...user.recentActions.map((a) => a.timeMs));
  const weights = new Map<string, number>();
  for (const action of user.recentActions) {
    const base = ACTION_WEIGHT[action.type];
    if (!base || hidden.has(action.itemId)) continue;
    const ageHours = Math.max(0, now - action.timeMs) / 3_600_000;
    weights.set(action.itemId, (weights.get(action.itemId) ?? 0) + base * 0.5 ** (ageHours / halfLifeHours));
  }
  return [...weights]
    .map(([itemId, weight]) => ({ itemId, weight }))
    .sort((a, b) => b.weight - a.weight || (a.itemId < b.itemId ? -1 : 1))
    .slice(0, maxSeeds);
}

/** Items the user hid in the context's actions: never seeds. */
function hiddenItems(user: UserContext): Set<string> {
  return new Set(user.recentActions.filter((a) => a.type === ActionType.ACTION_TYPE_HIDE).map((a) => a.itemId));
}

/**
 * The user's clicked or saved items by how many other engaged items came after them: 0 for the
 * newest. Counted in actions, not hours, so that a log of any era (an imported file from years
 * ago) weighs its users' drift the same way. Hidden items are left out, as for seeds.
 */
export function engagementPositions(user: UserContext): Map<string, number> {
  const hidden = hiddenItems(user);
  const newestFirst = user.recentActions
    .filter((a) => ACTION_WEIGHT[a.type] && !hidden.has(a.itemId))
    .sort((a, b) => b.timeMs - a.timeMs);
  const positions = new Map<string, number>();
  for (const a of newestFirst) if (!positions.has(a.itemId)) positions.set(a.itemId, positions.size);
  return positions;
}

/** What a list walk asks of the items to leave out. */
export interface ItemExclusion {
  has(itemId: string): boolean;
}

/**
 * Items the user already engaged with or hid, over the whole retained history: the recent actions
 * by id, older ones through the context's engaged filter (which also holds about 1% of other items,
 * a small price for never serving a history item). Iterating gives only the ids known exactly (the
 * recent actions), e.g. for an ANN request's exclusion list; has() is the full answer.
 */
export class EngagedItems implements ItemExclusion, Iterable<string> {
  private readonly recent: Set<string>;
  private readonly history: ItemFilterReader;
  /** At most this many catalog items are left out (filter false positives aside): for over-fetching. */
  readonly size: number;

  constructor(user: UserContext) {
    this.recent = new Set(user.recentActions.map((a) => a.itemId));
    this.history = new ItemFilterReader(user.engagedFilter);
    this.size = this.recent.size + (user.engagedFilter?.items ?? 0);
  }

  has(itemId: string): boolean {
    return this.recent.has(itemId) || this.history.has(itemId);
  }

  [Symbol.iterator](): Iterator<string> {
    return this.recent[Symbol.iterator]();
  }
}

/** Items the user already engaged with or hid: generators need not propose them again. */
export function engagedItems(user: UserContext): EngagedItems {
  return new EngagedItems(user);
}

import { ActionType, type UserContext } from '../../generated/feedloom/v1/common.js';
import { ItemFilterReader } from '../generator-sdk/item-filter.js';
import type { ItemExclusion } from '../generator-sdk/seeds.js';
import type { BlendCandidate, ItemCatalog, ItemInfo } from './types.js';

/** What the filters look at, computed once per request. */
export interface FilterInput {
  /** Clicked or saved lately, or engaged with (hides too) anywhere in the retained history. */
  engaged: ItemExclusion;
  hidden: Set<string>;
  seen: Set<string>;
  blockedCreators: Set<string>;
  catalog: ItemCatalog | undefined;
}

/**
 * A named rule: true means "drop this candidate". `info` is the item's catalog entry, looked up
 * once per candidate for every rule (undefined when the item is unknown or there is no catalog).
 */
export interface CandidateFilter {
  name: string;
  drops(candidate: BlendCandidate, input: FilterInput, info: ItemInfo | undefined): boolean;
}

export const FILTERS: CandidateFilter[] = [
  { name: 'hidden', drops: (c, i) => i.hidden.has(c.itemId) },
  { name: 'already_engaged', drops: (c, i) => i.engaged.has(c.itemId) },
  { name: 'already_seen', drops: (c, i) => i.seen.has(c.itemId) },
  // Unknown to the catalog: removed, deleted or never existed.
  { name: 'ineligible', drops: (_c, i, info) => i.catalog !== undefined && info === undefined },
  { name: 'blocked_creator', drops: (_c, i, info) => info?.creatorId != null && i.blockedCreators.has(info.creatorId) },
];

export function filterInput(user: UserContext, catalog: ItemCatalog | undefined): FilterInput {
  const recent = new Set<string>();
  const hidden = new Set<string>();
  for (const a of user.recentActions) {
    if (a.type === ActionType.ACTION_TYPE_HIDE) hidden.add(a.itemId);
    else if (a.type === ActionType.ACTION_TYPE_CLICK || a.type === ActionType.ACTION_TYPE_SAVE) recent.add(a.itemId);
  }
  // Beyond the recent actions: the whole history, through the context's engaged filter.
  const history = new ItemFilterReader(user.engagedFilter);
  const engaged = { has: (item: string) => recent.has(item) || history.has(item) };
  return { engaged, hidden, seen: new Set(user.seenItems), blockedCreators: new Set(user.blockedCreators), catalog };
}

/**
 * What the filters kept and, built only when read (a debug response), what they dropped and why.
 * A class: a getter in an object literal gets its accessor allocated in the old generation, which
 * then holds the Blend's candidates through every scavenge until the next full GC.
 */
class Filtered {
  constructor(
    readonly kept: BlendCandidate[],
    private readonly candidates: BlendCandidate[],
    private readonly droppedAt: number[],
    private readonly droppedBy: CandidateFilter[],
  ) {}

  get dropped(): BlendCandidate[] {
    return this.droppedAt.map((at, k) => ({ ...this.candidates[at], droppedBy: `filter:${this.droppedBy[k].name}` }));
  }
}

/** Stage 4: keeps the candidates no filter drops; the rest are marked with the filter that dropped them. */
export function filterCandidates(
  candidates: BlendCandidate[],
  input: FilterInput,
  filters = FILTERS,
): { kept: BlendCandidate[]; dropped: BlendCandidate[] } {
  const kept: BlendCandidate[] = [];
  const droppedAt: number[] = [];
  const droppedBy: CandidateFilter[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const info = input.catalog?.get(c.itemId);
    let filter: CandidateFilter | undefined;
    for (const f of filters) {
      if (f.drops(c, input, info)) {
        filter = f;
        break;
      }
    }
    if (filter) (droppedAt.push(i), droppedBy.push(filter));
    else kept.push(c);
  }
  return new Filtered(kept, candidates, droppedAt, droppedBy);
}

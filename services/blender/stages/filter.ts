import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import type { BlendCandidate, ItemCatalog } from './types.js';

/** What the filters look at, computed once per request. */
export interface FilterInput {
  engaged: Set<string>;
  hidden: Set<string>;
  seen: Set<string>;
  blockedCreators: Set<string>;
  catalog: ItemCatalog | undefined;
}

/** A named rule: true means "drop this candidate". */
export interface CandidateFilter {
  name: string;
  drops(candidate: BlendCandidate, input: FilterInput): boolean;
}

export const FILTERS: CandidateFilter[] = [
  { name: 'hidden', drops: (c, i) => i.hidden.has(c.itemId) },
  { name: 'already_engaged', drops: (c, i) => i.engaged.has(c.itemId) },
  { name: 'already_seen', drops: (c, i) => i.seen.has(c.itemId) },
  // Unknown to the catalog: removed, deleted or never existed.
  { name: 'ineligible', drops: (c, i) => i.catalog !== undefined && !i.catalog.has(c.itemId) },
  {
    name: 'blocked_creator',
    drops: (c, i) => {
      const creator = i.catalog?.get(c.itemId)?.creatorId;
      return creator != null && i.blockedCreators.has(creator);
    },
  },
];

export function filterInput(user: UserContext, catalog: ItemCatalog | undefined): FilterInput {
  const engaged = new Set<string>();
  const hidden = new Set<string>();
  for (const a of user.recentActions) {
    if (a.type === ActionType.ACTION_TYPE_HIDE) hidden.add(a.itemId);
    else if (a.type === ActionType.ACTION_TYPE_CLICK || a.type === ActionType.ACTION_TYPE_SAVE) engaged.add(a.itemId);
  }
  return { engaged, hidden, seen: new Set(user.seenItems), blockedCreators: new Set(user.blockedCreators), catalog };
}

/** Stage 4: keeps the candidates no filter drops; the rest are marked with the filter that dropped them. */
export function filterCandidates(candidates: BlendCandidate[], input: FilterInput, filters = FILTERS): { kept: BlendCandidate[]; dropped: BlendCandidate[] } {
  const kept: BlendCandidate[] = [];
  const dropped: BlendCandidate[] = [];
  for (const c of candidates) {
    const filter = filters.find((f) => f.drops(c, input));
    if (filter) dropped.push({ ...c, droppedBy: `filter:${filter.name}` });
    else kept.push(c);
  }
  return { kept, dropped };
}

import type { BlendCandidate, ItemCatalog } from './types.js';

export interface PageRules {
  /** At most this many items by one creator per CREATOR_CAP_PAGE items of the page. */
  maxPerCreator: number;
  /** At most this share of the page proposed by one generator alone. */
  maxSourceShare: number;
}

/**
 * The page size maxPerCreator is meant for (the feed's default page). A longer page allows
 * proportionally more: 3 per 50 is 30 on a 500-item page, not 3, which would leave a 150-creator
 * catalog unable to fill it.
 */
export const CREATOR_CAP_PAGE = 50;

/** How many items of one creator a page of `limit` items may hold. */
export function creatorCap(maxPerCreator: number, limit: number): number {
  return maxPerCreator * Math.max(1, Math.ceil(limit / CREATOR_CAP_PAGE));
}

/**
 * Stage 7: the final page, in order, under diversity caps. An item over a cap waits; if the page
 * cannot be filled otherwise, waiting items fill it in order (caps are preferences, not holes).
 */
export function composePage(
  ordered: BlendCandidate[],
  limit: number,
  rules: PageRules,
  catalog: ItemCatalog | undefined,
): { page: BlendCandidate[]; dropped: BlendCandidate[] } {
  const page: BlendCandidate[] = [];
  const waiting: BlendCandidate[] = [];
  const waitedFor = new Map<string, string>();
  const perCreator = new Map<string, number>();
  const perSoleSource = new Map<string, number>();
  const sourceCap = Math.max(1, Math.floor(rules.maxSourceShare * limit));
  const perCreatorCap = creatorCap(rules.maxPerCreator, limit);
  for (const c of ordered) {
    if (page.length >= limit) break;
    const creator = catalog?.get(c.itemId)?.creatorId ?? null;
    const sole = c.proposals.length === 1 ? c.proposals[0].generator : null;
    const overCreator = creator !== null && (perCreator.get(creator) ?? 0) >= perCreatorCap;
    const overSource = sole !== null && (perSoleSource.get(sole) ?? 0) >= sourceCap;
    if (overCreator || overSource) {
      waiting.push(c);
      waitedFor.set(c.itemId, overCreator ? 'page:creator_cap' : 'page:source_cap');
      continue;
    }
    if (creator) perCreator.set(creator, (perCreator.get(creator) ?? 0) + 1);
    if (sole) perSoleSource.set(sole, (perSoleSource.get(sole) ?? 0) + 1);
    page.push(c);
  }
  for (let i = 0; page.length < limit && i < waiting.length; i++) page.push(waiting[i]);
  return new ComposedPage(page, ordered, waitedFor);
}

/**
 * The page and, built only when read, what missed it and why: thousands of items miss a 50-item
 * page and only a debug response reads why. A class, not an object literal with a getter (see
 * Filtered in filter.ts: such a getter keeps the Blend's candidates alive until a full GC).
 */
class ComposedPage {
  constructor(
    readonly page: BlendCandidate[],
    private readonly ordered: BlendCandidate[],
    private readonly waitedFor: Map<string, string>,
  ) {}

  get dropped(): BlendCandidate[] {
    const onPage = new Set(this.page.map((c) => c.itemId));
    return this.ordered
      .filter((c) => !onPage.has(c.itemId))
      .map((c) => ({ ...c, droppedBy: this.waitedFor.get(c.itemId) ?? 'page:below_cutoff' }));
  }
}

import type { BlendCandidate, ItemCatalog } from './types.js';

export interface PageRules {
  /** At most this many items by one creator. */
  maxPerCreator: number;
  /** At most this share of the page proposed by one generator alone. */
  maxSourceShare: number;
}

/**
 * Stage 7: the final page, in order, under diversity caps. An item over a cap waits; if the page
 * cannot be filled otherwise, waiting items fill it in order (caps are preferences, not holes).
 */
export function composePage(ordered: BlendCandidate[], limit: number, rules: PageRules, catalog: ItemCatalog | undefined): { page: BlendCandidate[]; dropped: BlendCandidate[] } {
  const page: BlendCandidate[] = [];
  const waiting: BlendCandidate[] = [];
  const waitedFor = new Map<string, string>();
  const perCreator = new Map<string, number>();
  const perSoleSource = new Map<string, number>();
  const sourceCap = Math.max(1, Math.floor(rules.maxSourceShare * limit));
  for (const c of ordered) {
    if (page.length >= limit) break;
    const creator = catalog?.get(c.itemId)?.creatorId ?? null;
    const sole = c.proposals.length === 1 ? c.proposals[0].generator : null;
    const overCreator = creator !== null && (perCreator.get(creator) ?? 0) >= rules.maxPerCreator;
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
  while (page.length < limit && waiting.length) page.push(waiting.shift()!);
  const onPage = new Set(page.map((c) => c.itemId));
  const dropped = ordered.filter((c) => !onPage.has(c.itemId)).map((c) => ({ ...c, droppedBy: waitedFor.get(c.itemId) ?? 'page:below_cutoff' }));
  return { page, dropped };
}

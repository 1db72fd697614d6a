import type { Candidate } from '../../generated/feedloom/v1/common.js';
import type { Proposal, SourceStatus } from '../../generated/feedloom/v1/blender.js';

/** One generator's answer to the fan-out (candidates empty when it failed). */
export interface SourceAnswer {
  status: SourceStatus;
  candidates: Candidate[];
}

/** An item after dedupe: every generator that proposed it, and what happened to it since. */
export interface BlendCandidate {
  itemId: string;
  proposals: Proposal[];
  preScore: number;
  /** Set when a later stage removes it: the filter or rule that did. */
  droppedBy?: string;
}

/** What the blender knows about items, from the item_meta snapshot. */
export interface ItemInfo {
  creatorId: string | null;
  topic: string | null;
}
export type ItemCatalog = Map<string, ItemInfo>;

import type { Candidate } from '../../../generated/feedloom/v1/common.js';
import { creatorItems } from '../../../libs/data/batch/jobs/creator_items.js';
import { scoredItemLists } from '../../../libs/columns/id-lists.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';

export default defineGenerator({
  name: 'followed_creators',
  kind: 'heuristic',
  description: 'Recent, well-received items by the creators the user follows, interleaved across creators.',
  requestCost: 'O(followed creators × 100) to interleave precomputed per-creator lists',
  snapshots: [creatorItems],
  // Off the JS heap: creator → items as shared typed arrays (libs/columns).
  prepare: (rows) =>
    scoredItemLists(
      rows.creator_items,
      (r) => r.creator_id,
      (r) => r.items,
    ),
  enable: (user) => user.followedCreators.length > 0,
  generate({ user, quota }, { data }) {
    const exclude = engagedItems(user);
    const lists = user.followedCreators.map((creator) => ({ creator, items: data.list(creator) }));
    const out: Candidate[] = [];
    // Round-robin by depth so one prolific creator does not crowd out the rest.
    for (let depth = 0; out.length < quota && lists.some((l) => depth < l.items.length); depth++) {
      for (const { creator, items } of lists) {
        if (depth >= items.length) continue;
        const itemId = items.id(depth);
        if (exclude.has(itemId)) continue;
        out.push({ itemId, score: 1 / (1 + depth), reason: `by followed creator ${creator}` });
        if (out.length >= quota) break;
      }
    }
    return out;
  },
});

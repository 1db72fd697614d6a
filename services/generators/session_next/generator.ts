import { z } from 'zod';
import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import { sessionTransitions } from '../../../libs/data/batch/jobs/session_transitions.js';
import { scoredItemLists } from '../../../libs/columns/id-lists.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { ScoreBoard } from '../../../libs/generator-sdk/ranked-list.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { hasEngagementSeed } from '../../../libs/generator-sdk/enable.js';

/** The user's most recently engaged distinct items (clicks and saves, not hidden ones), newest first. */
export function lastEngaged(user: UserContext, n: number): string[] {
  const hidden = new Set(user.recentActions.filter((a) => a.type === ActionType.ACTION_TYPE_HIDE).map((a) => a.itemId));
  const out: string[] = [];
  // recentActions are newest first.
  for (const a of user.recentActions) {
    if (out.length >= n) break;
    if (
      (a.type === ActionType.ACTION_TYPE_CLICK || a.type === ActionType.ACTION_TYPE_SAVE) &&
      !hidden.has(a.itemId) &&
      !out.includes(a.itemId)
    )
      out.push(a.itemId);
  }
  return out;
}

export default defineGenerator({
  name: 'session_next',
  kind: 'graph',
  description:
    "What people engaged with next in their sessions after the user's last few items (item → next-item transitions).",
  requestCost: 'O(lastItems × 50 transitions), lastItems default 10',
  snapshots: [sessionTransitions],
  settings: z.object({
    /** The user's most recently engaged items whose transitions are followed. */
    lastItems: z.number().int().min(1).default(10),
    /** Weight of each older item against the one after it (the newest weighs 1). */
    positionDecay: z.number().min(0).max(1).default(0.8),
  }),
  // Off the JS heap: item → next items as shared typed arrays (libs/columns).
  prepare: (rows) =>
    scoredItemLists(
      rows.session_transitions,
      (r) => r.item_id,
      (r) => r.next,
    ),
  enable: hasEngagementSeed,
  generate({ user, quota }, { data, settings }) {
    const board = new ScoreBoard();
    // The newest item counts most: its transitions are what a session would do next. Each item's
    // transitions are scaled to its strongest one, so a rarely seen item with one lucky successor
    // does not outweigh the newest item's spread-out ones.
    const decay = settings.positionDecay;
    lastEngaged(user, settings.lastItems).forEach((itemId, position) => {
      const next = data.list(itemId);
      const weight = decay ** position / ((next.length && next.score(0)) || 1);
      for (let k = 0; k < next.length; k++)
        board.add(next.id(k), weight * next.score(k), `often engaged next after ${itemId}`);
    });
    return board.top(quota, engagedItems(user));
  },
});

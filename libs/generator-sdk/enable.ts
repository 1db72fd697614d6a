// Per-request enable rules generators share: from the user alone, whether a request can give the
// generator anything to start from. A generator that says no is not called (the blender reports
// it DISABLED), which saves the call where its answer would be empty anyway.
import { ActionType, type UserContext } from '../../generated/feedloom/v1/common.js';

/** A click or save of an item the user did not hide: what engagementSeeds and lastEngaged start from. */
export function hasEngagementSeed(user: UserContext): boolean {
  let hidden: Set<string> | undefined;
  for (const a of user.recentActions) {
    if (a.type !== ActionType.ACTION_TYPE_CLICK && a.type !== ActionType.ACTION_TYPE_SAVE) continue;
    hidden ??= new Set(user.recentActions.filter((x) => x.type === ActionType.ACTION_TYPE_HIDE).map((x) => x.itemId));
    if (!hidden.has(a.itemId)) return true;
  }
  return false;
}

/** A save among the recent actions: what save-seeded walks start from. */
export const hasSave = (user: UserContext) => user.recentActions.some((a) => a.type === ActionType.ACTION_TYPE_SAVE);

import type { Action, UserContext } from '../../generated/feedloom/v1/common.js';
import { actionTypeOf, type ActionName } from './action-names.js';
import { RecentRing } from './recent-ring.js';

/** Realtime user state: what GetUserContext answers, bounded per user. */

export const MAX_RECENT_ACTIONS = 1000;
export const MAX_SEEN_ITEMS = 200;
// Extra topics taken from what the user engaged with lately, after the declared ones.
const MAX_ENGAGED_TOPICS = 3;
const MIN_TOPIC_ENGAGEMENT = 2;
const TOPIC_WEIGHT: Record<ActionName, number> = { impression: 0, click: 1, save: 2, hide: 0 };

/** One event as the state needs it. */
export interface UserEvent {
  userId: string;
  itemId: string;
  action: ActionName;
  timeMs: number;
  boardId: string;
}

interface RecentAction {
  itemId: string;
  action: ActionName;
  timeMs: number;
  boardId: string;
}

/** Catalog facts about a user (from the world's catalog, fixed while the service runs). */
export interface UserProfile {
  locale: string;
  /** Declared at onboarding. */
  topics: string[];
  followedCreators: string[];
  followedBoards: string[];
  ownBoards: string[];
}

interface UserRecord {
  profile: UserProfile;
  actions?: RecentRing<RecentAction>;
  // item id -> last time shown; insertion order is recency order (re-shown items move to the end).
  seen?: Map<string, number>;
}

const emptyProfile = (): UserProfile => ({ locale: '', topics: [], followedCreators: [], followedBoards: [], ownBoards: [] });

export class UserStore {
  private readonly users = new Map<string, UserRecord>();

  /** @param topicOfItem the catalog topic of an item, for the engaged topics; undefined if unknown. */
  constructor(private readonly topicOfItem: (itemId: string) => string | undefined = () => undefined) {}

  get userCount(): number {
    return this.users.size;
  }

  /** The user's catalog profile, to fill in while loading the catalog. */
  profile(userId: string): UserProfile {
    return this.record(userId).profile;
  }

  apply(event: UserEvent): void {
    const user = this.record(event.userId);
    if (event.action === 'impression') {
      const seen = (user.seen ??= new Map());
      const shownAt = seen.get(event.itemId);
      if (shownAt !== undefined && shownAt >= event.timeMs) return;
      seen.delete(event.itemId);
      seen.set(event.itemId, event.timeMs);
      if (seen.size > MAX_SEEN_ITEMS) seen.delete(seen.keys().next().value as string);
      return;
    }
    user.actions ??= new RecentRing<RecentAction>(MAX_RECENT_ACTIONS);
    user.actions.add({ itemId: event.itemId, action: event.action, timeMs: event.timeMs, boardId: event.boardId });
  }

  /** The context generators see; an unknown user gets an empty one. */
  context(userId: string, maxActions: number, requestTimeMs: number): UserContext {
    const user = this.users.get(userId);
    const profile = user?.profile ?? emptyProfile();
    const recent = user?.actions?.newestFirst() ?? [];
    const recentActions: Action[] = recent.slice(0, maxActions).map((a) => ({
      itemId: a.itemId,
      type: actionTypeOf(a.action),
      timeMs: a.timeMs,
      boardId: a.boardId,
    }));
    return {
      userId,
      recentActions,
      followedCreators: [...profile.followedCreators],
      followedBoards: [...profile.followedBoards],
      topics: [...profile.topics, ...this.engagedTopics(recent, profile.topics)],
      locale: profile.locale,
      requestTimeMs,
      ownBoards: [...profile.ownBoards],
      // No source of blocks in the world's data yet.
      blockedCreators: [],
      seenItems: user?.seen ? [...user.seen.keys()].reverse() : [],
    };
  }

  /** Topics the user clicked and saved most among the kept recent actions, beyond the declared ones. */
  private engagedTopics(recent: RecentAction[], declared: string[]): string[] {
    const score = new Map<string, number>();
    for (const a of recent) {
      const topic = this.topicOfItem(a.itemId);
      if (topic && TOPIC_WEIGHT[a.action] > 0) score.set(topic, (score.get(topic) ?? 0) + TOPIC_WEIGHT[a.action]);
    }
    return [...score]
      .filter(([topic, s]) => s >= MIN_TOPIC_ENGAGEMENT && !declared.includes(topic))
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, MAX_ENGAGED_TOPICS)
      .map(([topic]) => topic);
  }

  private record(userId: string): UserRecord {
    let user = this.users.get(userId);
    if (!user) this.users.set(userId, (user = { profile: emptyProfile() }));
    return user;
  }
}

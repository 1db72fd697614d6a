import { ActionType, type Action, type ItemFilter, type UserContext } from '../../generated/feedloom/v1/common.js';
import { buildItemFilter } from '../../libs/generator-sdk/item-filter.js';
import { actionTypeOf, type ActionName } from './action-names.js';
import { ActionRing, NO_BOARD, RingArena } from './action-ring.js';
import { IdTable } from './id-table.js';

/** Realtime user state: what GetUserContext answers, bounded per user. */

export const MAX_RECENT_ACTIONS = 1000;
export const MAX_SEEN_ITEMS = 200;
// Items engaged with (clicked, saved or hidden) over the whole retained history, the newest kept:
// GetUserContext sends them as a Bloom filter of 1.25 bytes per item (6.1 KiB at the cap).
export const MAX_ENGAGED_ITEMS = 5_000;
// Impressions kept per user; an item shown twice is listed once, so a little over the list's cap.
const SEEN_RING_CAPACITY = 256;
// Extra topics taken from what the user engaged with lately, after the declared ones.
const MAX_ENGAGED_TOPICS = 3;
const MIN_TOPIC_ENGAGEMENT = 2;
const TOPIC_WEIGHT: Partial<Record<ActionType, number>> = {
  [ActionType.ACTION_TYPE_CLICK]: 1,
  [ActionType.ACTION_TYPE_SAVE]: 2,
};

/** One event as the state needs it. */
export interface UserEvent {
  userId: string;
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
  /** Clicks, saves and hides. */
  actions?: ActionRing;
  impressions?: ActionRing;
  /** Every item engaged with, oldest first (a re-engaged item moves to the end), at most MAX_ENGAGED_ITEMS. */
  engaged?: Set<number>;
  /** The engaged set as sent, built when first asked for after a change. */
  engagedFilter?: ItemFilter;
}

const emptyProfile = (): UserProfile => ({
  locale: '',
  topics: [],
  followedCreators: [],
  followedBoards: [],
  ownBoards: [],
});

export class UserStore {
  /** Every id the state mentions, as numbers. */
  readonly ids = new IdTable();
  private readonly users = new Map<number, UserRecord>();
  private readonly rings = new RingArena();
  private readonly labels = new Map<string, string>();
  // Item number -> catalog topic, for the engaged topics.
  private readonly itemTopics = new Map<number, string>();

  get userCount(): number {
    return this.users.size;
  }

  /** The user's catalog profile, to fill in while loading the catalog. */
  profile(userId: string): UserProfile {
    return this.record(this.ids.intern(userId)).profile;
  }

  setItemTopic(item: number, topic: string): void {
    this.itemTopics.set(item, this.label(topic));
  }

  /**
   * One copy of a string the profiles and topics repeat (a topic, locale, creator or board id): the
   * id table's own, else the first seen. Read from the catalog, each row is a new string.
   */
  label(text: string): string {
    const id = this.ids.find(text);
    if (id !== undefined) return this.ids.name(id);
    let kept = this.labels.get(text);
    if (kept === undefined) this.labels.set(text, (kept = text));
    return kept;
  }

  apply(event: UserEvent): void {
    const board = event.boardId ? this.ids.intern(event.boardId) : NO_BOARD;
    this.applyNumbered(
      this.ids.intern(event.userId),
      this.ids.intern(event.itemId),
      actionTypeOf(event.action),
      event.timeMs,
      board,
    );
  }

  /** apply() for ids already numbered by this store's table: the bulk-loading path. */
  applyNumbered(user: number, item: number, type: ActionType, timeMs: number, board = NO_BOARD): void {
    const record = this.record(user);
    if (type === ActionType.ACTION_TYPE_IMPRESSION) {
      (record.impressions ??= new ActionRing(SEEN_RING_CAPACITY, this.rings)).add(item, type, timeMs);
    } else {
      (record.actions ??= new ActionRing(MAX_RECENT_ACTIONS, this.rings)).add(item, type, timeMs, board);
      remember(record, item);
    }
  }

  /** The context generators see; an unknown user gets an empty one. */
  context(userId: string, maxActions: number, requestTimeMs: number, seenWindowMs = 0): UserContext {
    const index = this.ids.find(userId);
    const user = index === undefined ? undefined : this.users.get(index);
    const profile = user?.profile ?? emptyProfile();
    const recentActions: Action[] = [];
    const topicScore = new Map<string, number>();
    user?.actions?.forEachNewest(MAX_RECENT_ACTIONS, (item, type, timeMs, board) => {
      if (recentActions.length < maxActions) {
        recentActions.push({
          itemId: this.ids.name(item),
          type,
          timeMs,
          boardId: board === NO_BOARD ? '' : this.ids.name(board),
        });
      }
      const topic = this.itemTopics.get(item);
      if (topic && TOPIC_WEIGHT[type]) topicScore.set(topic, (topicScore.get(topic) ?? 0) + TOPIC_WEIGHT[type]);
    });
    const seen = new Set<number>();
    const seenSince = seenWindowMs > 0 ? requestTimeMs - seenWindowMs : -Infinity;
    user?.impressions?.forEachNewest(SEEN_RING_CAPACITY, (item, _type, timeMs) => {
      if (seen.size < MAX_SEEN_ITEMS && timeMs >= seenSince) seen.add(item);
    });
    return {
      userId,
      recentActions,
      followedCreators: [...profile.followedCreators],
      followedBoards: [...profile.followedBoards],
      topics: [...profile.topics, ...engagedTopics(topicScore, profile.topics)],
      locale: profile.locale,
      requestTimeMs,
      ownBoards: [...profile.ownBoards],
      // No source of blocks in the world's data yet.
      blockedCreators: [],
      seenItems: [...seen].map((item) => this.ids.name(item)),
      engagedFilter: user && this.engagedFilterOf(user),
    };
  }

  /** Every user the state knows. */
  userIds(): string[] {
    return [...this.users.keys()].map((user) => this.ids.name(user));
  }

  /** The items in the user's engaged filter, oldest first. */
  engagedIds(userId: string): string[] {
    const index = this.ids.find(userId);
    const engaged = index === undefined ? undefined : this.users.get(index)?.engaged;
    return [...(engaged ?? [])].map((item) => this.ids.name(item));
  }

  private engagedFilterOf(user: UserRecord): ItemFilter | undefined {
    if (!user.engaged) return undefined;
    return (user.engagedFilter ??= buildItemFilter([...user.engaged].map((item) => this.ids.name(item))));
  }

  private record(user: number): UserRecord {
    let record = this.users.get(user);
    if (!record) this.users.set(user, (record = { profile: emptyProfile() }));
    return record;
  }
}

/** Adds an engaged item as the newest, dropping the oldest past the cap. */
function remember(record: UserRecord, item: number): void {
  const engaged = (record.engaged ??= new Set());
  engaged.delete(item);
  engaged.add(item);
  if (engaged.size > MAX_ENGAGED_ITEMS) engaged.delete(engaged.values().next().value!);
  record.engagedFilter = undefined;
}

/** The topics the user clicked and saved most among the kept recent actions, beyond the declared ones. */
function engagedTopics(score: Map<string, number>, declared: string[]): string[] {
  return [...score]
    .filter(([topic, s]) => s >= MIN_TOPIC_ENGAGEMENT && !declared.includes(topic))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_ENGAGED_TOPICS)
    .map(([topic]) => topic);
}

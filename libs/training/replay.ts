// Replays a world's event log user by user and answers "what would GetUserContext have returned
// for this user at time t?". The dataset builder encodes training examples from these contexts with
// encodeUserBatch, the same function the viewer serves with, so a user's features at training time
// are built exactly as they will be at serving time. The rules mirror the Events service
// (services/events/user-state.ts): the newest clicks, saves and hides (newest first), declared
// topics plus up to three engaged ones, newest follows first.
import type { DuckDBConnection } from '@duckdb/node-api';
import { ActionType, type Action, type UserContext } from '../../generated/feedloom/v1/common.js';
import { queryRows } from '../data/duck.js';
import { CONTEXT_MAX_ACTIONS } from '../features/two-tower.js';

/** Actions per user the Events service keeps (its ring), over which engaged topics are counted. */
export const KEPT_ACTIONS = 1000;
const MAX_ENGAGED_TOPICS = 3;
const MIN_TOPIC_ENGAGEMENT = 2;
const TOPIC_WEIGHT: Partial<Record<ActionType, number>> = {
  [ActionType.ACTION_TYPE_CLICK]: 1,
  [ActionType.ACTION_TYPE_SAVE]: 2,
};

export interface ReplayEvent {
  userId: string;
  itemId: string;
  type: ActionType;
  timeMs: number;
  boardId: string;
}

interface Profile {
  locale: string;
  topics: string[];
  /** Creator follows, newest first (ties by creator id), with their times. */
  follows: { creatorId: string; timeMs: number }[];
}

interface UserHistory {
  actions: Action[];
  /** Index of the oldest action still among the newest KEPT_ACTIONS. */
  keptFrom: number;
  topicScore: Map<string, number>;
}

const ACTION_TYPES: Record<string, ActionType> = {
  click: ActionType.ACTION_TYPE_CLICK,
  save: ActionType.ACTION_TYPE_SAVE,
  hide: ActionType.ACTION_TYPE_HIDE,
};

export class UserReplay {
  private readonly histories = new Map<string, UserHistory>();

  constructor(
    private readonly profiles: ReadonlyMap<string, Profile>,
    private readonly itemTopics: ReadonlyMap<string, string>,
    private readonly maxActions = CONTEXT_MAX_ACTIONS,
  ) {}

  /** Loads profiles, creator follows and item topics from the catalog views of eventsView. */
  static async load(conn: DuckDBConnection, maxActions = CONTEXT_MAX_ACTIONS): Promise<UserReplay> {
    const profiles = new Map<string, Profile>();
    const users = await queryRows<{ user_id: string; locale: string | null; topics: string[] | null }>(
      conn,
      'SELECT user_id, locale, topics FROM users',
    );
    for (const u of users) profiles.set(u.user_id, { locale: u.locale ?? '', topics: u.topics ?? [], follows: [] });
    const follows = await queryRows<{ user_id: string; target_id: string; time_ms: number }>(
      conn,
      `SELECT user_id, target_id, time_ms FROM follows WHERE target_type = 'creator' ORDER BY time_ms DESC, target_id`,
    );
    for (const f of follows) {
      let p = profiles.get(f.user_id);
      if (!p) profiles.set(f.user_id, (p = { locale: '', topics: [], follows: [] }));
      p.follows.push({ creatorId: f.target_id, timeMs: Number(f.time_ms) });
    }
    const topics = await queryRows<{ item_id: string; topic: string }>(
      conn,
      'SELECT item_id, topic FROM items WHERE topic IS NOT NULL',
    );
    return new UserReplay(profiles, new Map(topics.map((r) => [r.item_id, r.topic])), maxActions);
  }

  /** Adds one event (clicks, saves and hides; others are ignored). Events must come in time order. */
  apply(event: ReplayEvent): void {
    if (
      event.type !== ActionType.ACTION_TYPE_CLICK &&
      event.type !== ActionType.ACTION_TYPE_SAVE &&
      event.type !== ActionType.ACTION_TYPE_HIDE
    )
      return;
    let h = this.histories.get(event.userId);
    if (!h) this.histories.set(event.userId, (h = { actions: [], keptFrom: 0, topicScore: new Map() }));
    h.actions.push({ itemId: event.itemId, type: event.type, timeMs: event.timeMs, boardId: event.boardId });
    this.score(h, event.itemId, event.type, +1);
    while (h.actions.length - h.keptFrom > KEPT_ACTIONS) {
      const dropped = h.actions[h.keptFrom++];
      this.score(h, dropped.itemId, dropped.type, -1);
    }
  }

  /** The user's context as GetUserContext(max_actions) would build it from what was applied so far. */
  context(userId: string, requestTimeMs: number): UserContext {
    const profile = this.profiles.get(userId);
    const h = this.histories.get(userId);
    const recentActions: Action[] = [];
    if (h)
      for (let i = h.actions.length - 1; i >= h.keptFrom && recentActions.length < this.maxActions; i--)
        recentActions.push(h.actions[i]);
    const declared = profile?.topics ?? [];
    return {
      userId,
      recentActions,
      followedCreators: (profile?.follows ?? []).filter((f) => f.timeMs < requestTimeMs).map((f) => f.creatorId),
      followedBoards: [],
      topics: [...declared, ...engagedTopics(h?.topicScore, declared)],
      locale: profile?.locale ?? '',
      requestTimeMs,
      ownBoards: [],
      blockedCreators: [],
      seenItems: [],
    };
  }

  private score(h: UserHistory, itemId: string, type: ActionType, sign: 1 | -1): void {
    const topic = this.itemTopics.get(itemId);
    const w = TOPIC_WEIGHT[type];
    if (!topic || !w) return;
    const next = (h.topicScore.get(topic) ?? 0) + sign * w;
    if (next === 0) h.topicScore.delete(topic);
    else h.topicScore.set(topic, next);
  }
}

/** The topics the user clicked and saved most among the kept actions, beyond the declared ones. */
function engagedTopics(score: Map<string, number> | undefined, declared: string[]): string[] {
  if (!score) return [];
  return [...score]
    .filter(([topic, s]) => s >= MIN_TOPIC_ENGAGEMENT && !declared.includes(topic))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_ENGAGED_TOPICS)
    .map(([topic]) => topic);
}

/** Clicks, saves and hides before beforeMs, in time order, as column arrays (cheap to hold). */
export interface EventColumns {
  users: string[];
  items: string[];
  types: Uint8Array;
  times: Float64Array;
  boards: string[];
  length: number;
}

export async function loadEngagementEvents(conn: DuckDBConnection, beforeMs: number): Promise<EventColumns> {
  const reader = await conn.runAndReadAll(`
    SELECT user_id, item_id, action, time_ms::DOUBLE AS time_ms, coalesce(board_id, '') AS board_id
    FROM events
    WHERE action IN ('click', 'save', 'hide') AND time_ms < ${Math.floor(beforeMs)} AND user_id IS NOT NULL AND item_id IS NOT NULL
    ORDER BY time_ms`);
  const cols = reader.getColumnsJS() as unknown as [string[], string[], string[], number[], string[]];
  const n = cols[0].length;
  const types = new Uint8Array(n);
  for (let i = 0; i < n; i++) types[i] = ACTION_TYPES[cols[2][i]];
  return { users: cols[0], items: cols[1], types, times: Float64Array.from(cols[3]), boards: cols[4], length: n };
}

export function eventAt(columns: EventColumns, i: number): ReplayEvent {
  return {
    userId: columns.users[i],
    itemId: columns.items[i],
    type: columns.types[i],
    timeMs: columns.times[i],
    boardId: columns.boards[i],
  };
}

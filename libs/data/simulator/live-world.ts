// The simulator's users living on after the world's last simulated day, for `simulate --live`. The
// world's state is replayed in memory (as continueWorld does); each live day then brings the
// simulator's own interest drift and trends, sessions are planned as on simulated days, and the
// user's reaction to what a running mesh showed is drawn by reactToSlot (one engagement model).
import { createRng, hashSeed } from '../random.js';
import { DAY_MS, boardId, itemId, userId } from '../world.js';
import { driftInterests, planSession, simulateDay, startTrends, trendBoosts } from './day.js';
import { EventBuffer } from './event-buffer.js';
import { DIM, currentInterest } from './model.js';
import { presetByName, type PresetName } from './presets.js';
import { reactToSlot, sessionInterest } from './reaction.js';
import { SimState } from './state.js';
import { readTruthMeta } from './truth.js';

/** A session of one user: when it starts and how many slots the user scrolls through. */
export interface LiveSession {
  user: number;
  userId: string;
  /** Day index from the world's start. */
  day: number;
  /** The session's number within the user's day. */
  index: number;
  startMs: number;
  slots: number;
  contextTopic: number;
}

export interface LiveAction {
  action: 'impression' | 'click' | 'save' | 'hide';
  itemId: string;
  timeMs: number;
  position: number;
  boardId?: string;
}

/** By ACTION_CODE. */
const ACTION_NAME = ['impression', 'click', 'save', 'hide'] as const;
/** The simulator's gap between two slots of a page (day.ts). */
const IMPRESSION_GAP_MS = 4_000;

export class LiveWorld {
  private day: number;
  private boost: Float32Array = new Float32Array(0);
  private readonly interest = new Float32Array(DIM);
  private readonly sessionVec = new Float32Array(DIM);

  private constructor(
    private readonly state: SimState,
    /** The first day after the world's simulated days. */
    readonly firstLiveDay: number,
    readonly seed: number,
  ) {
    this.day = firstLiveDay - 1;
  }

  /** Replays the simulated world in dir (its truth says which days were simulated, not compacted live days). */
  static async open(worldDir: string, seed: number): Promise<LiveWorld> {
    const truth = await readTruthMeta(worldDir);
    const state = new SimState(
      truth.preset as PresetName,
      presetByName(truth.preset),
      truth.seed,
      truth.startMs,
      truth.days,
    );
    state.createInitialWorld();
    const scratch = new EventBuffer();
    for (let day = 0; day < truth.days; day++) {
      scratch.clear();
      simulateDay(state, day, scratch);
    }
    return new LiveWorld(state, truth.days, seed);
  }

  get userCount(): number {
    return this.state.userCount;
  }

  dayOf(timeMs: number): number {
    return Math.floor((timeMs - this.state.startMs) / DAY_MS);
  }

  dayStartMs(day: number): number {
    return this.state.startMs + day * DAY_MS;
  }

  /** n users (all when n is undefined or larger), a seeded choice. */
  pickUsers(n?: number): number[] {
    const all = Array.from({ length: this.state.userCount }, (_, u) => u);
    const chosen = createRng(hashSeed(this.seed, 'live-users')).shuffle(all);
    return chosen.slice(0, Math.min(n ?? all.length, all.length)).sort((a, b) => a - b);
  }

  /**
   * The day's sessions of these users, in time order. Each user has the simulator's own activity
   * (mean sessions a day), scaled so the mean over them is `rate` when given.
   */
  sessionsOf(day: number, users: readonly number[], rate?: number): LiveSession[] {
    this.advanceTo(day);
    const { state } = this;
    const rng = createRng(hashSeed(this.seed, 'live-day', day));
    const meanActivity = users.reduce((s, u) => s + state.userActivity[u], 0) / Math.max(1, users.length);
    const scale = rate === undefined || meanActivity === 0 ? 1 : rate / meanActivity;
    const sessions: LiveSession[] = [];
    for (const u of users) {
      const count = Math.min(5, rng.poisson(state.userActivity[u] * scale));
      const plans = Array.from({ length: count }, () => planSession(state, rng, u, this.dayStartMs(day)));
      plans.sort((a, b) => a.startMs - b.startMs);
      plans.forEach((plan, k) =>
        sessions.push({ user: u, userId: userId(u), day, index: k, ...plan, slots: 10 + rng.int(21) }),
      );
    }
    return sessions.sort((a, b) => a.startMs - b.startMs || a.user - b.user);
  }

  /**
   * The user's impressions and reactions to a page shown at shownAtMs: the first `session.slots`
   * items, each seen in turn and engaged with by the simulator's model. Updates the world as the
   * simulated days do (recent topics, boards, follows).
   */
  react(session: LiveSession, itemIds: readonly string[], shownAtMs: number): LiveAction[] {
    this.advanceTo(session.day);
    const { state } = this;
    const rng = createRng(hashSeed(this.seed, 'live-session', session.user, session.day, session.index));
    currentInterest(state.userVec, state.userDrift, session.user * DIM, this.interest);
    const vec = sessionInterest(state, this.interest, session.contextTopic, this.sessionVec);
    const actions: LiveAction[] = [];
    itemIds.slice(0, session.slots).forEach((id, position) => {
      const item = /^i(0|[1-9]\d*)$/.test(id) ? Number(id.slice(1)) : -1;
      if (item < 0 || item >= state.itemCount) return; // not a simulated item: the user skips it
      const shownMs = shownAtMs + position * IMPRESSION_GAP_MS + rng.int(2000);
      actions.push({ action: 'impression', itemId: id, timeMs: shownMs, position });
      reactToSlot(state, rng, { user: session.user, item, position, shownMs }, vec, this.boost, (code, timeMs, board) =>
        actions.push({
          action: ACTION_NAME[code],
          itemId: itemId(item),
          timeMs,
          position,
          ...(board >= 0 ? { boardId: boardId(board) } : {}),
        }),
      );
    });
    return actions.sort((a, b) => a.timeMs - b.timeMs);
  }

  /** Each day's drift and trends, from the first live day on, applied once and in order. */
  private advanceTo(day: number): void {
    if (day < this.firstLiveDay) throw new Error(`day ${day} is one of the world's simulated days, not a live one`);
    while (this.day < day) {
      this.day++;
      const rng = createRng(hashSeed(this.seed, 'live-drift', this.day));
      driftInterests(this.state, rng);
      startTrends(this.state, rng, this.day, this.state.itemCount);
      this.boost = trendBoosts(this.state.trends, this.day, this.state.itemCount);
    }
  }
}

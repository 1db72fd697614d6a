// The simulator's users living on a running mesh, for `simulate --live`. Each day the world grows as
// the simulator grew it (beginDay: new users and items, interest drift, trends), so a world whose
// catalog holds days its event log does not yet (bench/retraining-pays.ts) meets its new items live;
// past the simulated days, the drift and trends go on without new items (the catalog ends there).
// Sessions are planned as on simulated days, and the user's reaction to what the mesh showed is
// drawn by reactToSlot: one engagement model.
import { createRng, hashSeed } from '../random.js';
import { DAY_MS, boardId, itemId, userId } from '../world.js';
import { beginDay, driftInterests, newnessOn, planSession, startTrends, trendBoosts } from './day.js';
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
  /** The last day whose growth, drift and trends were applied. */
  private day = -1;
  private boost: Float32Array = new Float32Array(0);
  private chosen: number[] | undefined;
  private readonly interest = new Float32Array(DIM);
  private readonly sessionVec = new Float32Array(DIM);

  private constructor(
    private readonly state: SimState,
    /** Days the simulator simulated: the catalog holds their users and items. */
    readonly simulatedDays: number,
    readonly seed: number,
  ) {}

  /** The simulated world in dir, from its truth (which days were simulated, not compacted live days). */
  static async open(worldDir: string, seed: number): Promise<LiveWorld> {
    const truth = await readTruthMeta(worldDir);
    const state = new SimState(
      truth.preset as PresetName,
      presetByName(truth.preset),
      truth.seed,
      truth.startMs,
      truth.days,
      truth.novelty,
    );
    state.createInitialWorld();
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

  /**
   * The day's sessions, in time order: of every user signed up by then, or of n users (a seeded
   * choice among those of the first day asked for). Each user has the simulator's own activity
   * (mean sessions a day), scaled so the mean over them is `rate` when given.
   */
  sessionsOf(day: number, n?: number, rate?: number): LiveSession[] {
    this.advanceTo(day);
    const { state } = this;
    const dayStart = this.dayStartMs(day);
    const all = Array.from({ length: state.userCount }, (_, u) => u).filter(
      (u) => state.userSignupMs[u] < dayStart + DAY_MS,
    );
    if (n !== undefined && this.chosen === undefined)
      this.chosen = createRng(hashSeed(this.seed, 'live-users'))
        .shuffle(all)
        .slice(0, n)
        .sort((a, b) => a - b);
    const users = this.chosen ?? all;
    const rng = createRng(hashSeed(this.seed, 'live-day', day));
    const meanActivity = users.reduce((s, u) => s + state.userActivity[u], 0) / Math.max(1, users.length);
    const scale = rate === undefined || meanActivity === 0 ? 1 : rate / meanActivity;
    const sessions: LiveSession[] = [];
    for (const u of users) {
      const count = Math.min(5, rng.poisson(state.userActivity[u] * scale));
      const plans = Array.from({ length: count }, () => planSession(state, rng, u, dayStart))
        // Not before the user signed up (a user new today).
        .filter((plan) => plan.startMs >= state.userSignupMs[u])
        .sort((a, b) => a.startMs - b.startMs);
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

  /** Each day's growth, drift and trends, applied once and in order up to `day`. */
  private advanceTo(day: number): void {
    while (this.day < day) {
      this.day++;
      if (this.day < this.simulatedDays) {
        this.boost = beginDay(this.state, this.day).boost;
        continue;
      }
      // Past the simulated days: drift and trends go on, no new users or items.
      const rng = createRng(hashSeed(this.seed, 'live-drift', this.day));
      driftInterests(this.state, rng);
      startTrends(this.state, rng, this.day, this.state.itemCount);
      this.boost = trendBoosts(
        this.state.trends,
        this.day,
        this.state.itemCount,
        newnessOn(this.state.novelty, this.state.itemCreatedMs, this.dayStartMs(this.day)),
      );
    }
  }
}

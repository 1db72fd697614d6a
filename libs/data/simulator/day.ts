// One simulated day: new users and items arrive, interests drift, some items trend, and every
// active user has sessions in which the incumbent shows items and the user reacts to them.
import { createRng, hashSeed, type Rng } from '../random.js';
import { DAY_MS } from '../world.js';
import { ACTION_CODE, EventBuffer } from './event-buffer.js';
import { IncumbentPools } from './incumbent.js';
import { DIM, MODEL, currentInterest, noveltyBoost, type Novelty } from './model.js';
import { growthOf } from './presets.js';
import { reactToSlot, sessionInterest } from './reaction.js';
import type { SimState, Trend } from './state.js';

const IMPRESSION_GAP_MS = 4_000;

export function simulateDay(state: SimState, day: number, out: EventBuffer): void {
  const dayStart = state.startMs + day * DAY_MS;
  // The incumbent prepares its pools from what existed when the day began.
  const pools = new IncumbentPools(state, dayStart);
  const { rng, boost } = beginDay(state, day);

  const engagement = new Float32Array(state.itemCount);
  const start = out.length;
  const session = new SessionRunner(state, pools, rng, boost, engagement, out);
  const interest = new Float32Array(DIM);
  for (let u = 0; u < state.userCount; u++) {
    const sessions = Math.min(5, rng.poisson(state.userActivity[u]));
    if (sessions === 0) continue;
    currentInterest(state.userVec, state.userDrift, u * DIM, interest);
    // A user's sessions run in time order, so what one session changes (recent topics, boards,
    // follows) only reaches the later ones.
    const planned = Array.from({ length: sessions }, () => planSession(state, rng, u, dayStart));
    planned.sort((a, b) => a.startMs - b.startMs);
    planned.forEach((plan, k) => session.run(u, k, plan, interest));
  }
  state.eventsPerDay[day] = out.length - start;

  // Overnight the incumbent folds the day's engagement into its popularity estimate.
  for (let i = 0; i < state.itemCount; i++) state.popularity[i] = 0.75 * state.popularity[i] + engagement[i];
}

/**
 * The part of a day that does not depend on what anyone was shown: new users and items arrive,
 * interests drift, trends start. Live play (live-world.ts) replays it to grow the same world.
 * Returns the day's random stream (its sessions continue it) and the items' trend boosts.
 */
export function beginDay(state: SimState, day: number): { rng: Rng; boost: Float32Array } {
  const rng = createRng(hashSeed(state.seed, 'day', day));
  const g = growthOf(state.preset);
  const dayStart = state.startMs + day * DAY_MS;
  const existing = state.itemCount;

  for (const t of sortedTimes(rng, g.newUsersPerDay, dayStart)) {
    const u = state.addUser(rng, t);
    state.addInitialFollows(rng, u, () => t + rng.int(10 * 60_000));
  }
  for (const t of sortedTimes(rng, g.freshItemsPerDay, dayStart)) state.addItem(rng, t);

  driftInterests(state, rng);
  state.driftHistory.push(state.userDrift.slice(0, state.userCount * DIM));

  startTrends(state, rng, day, existing);
  return {
    rng,
    boost: trendBoosts(state.trends, day, state.itemCount, newnessOn(state.novelty, state.itemCreatedMs, dayStart)),
  };
}

function sortedTimes(rng: Rng, n: number, dayStart: number): number[] {
  return Array.from({ length: n }, () => dayStart + rng.int(DAY_MS)).sort((a, b) => a - b);
}

/** Short-term drift: yesterday's drift fades, and some users pick up a passing interest in a topic. */
export function driftInterests(state: SimState, rng: Rng): void {
  for (let u = 0; u < state.userCount; u++) {
    const passing = rng.next() < MODEL.passingInterestChance ? rng.cumulativeIndex(state.topicCum) : -1;
    const off = u * DIM;
    for (let k = 0; k < DIM; k++) {
      const pull = passing >= 0 ? MODEL.passingInterestStrength * state.topicVec[passing * DIM + k] : 0;
      state.userDrift[off + k] =
        MODEL.driftPersistence * state.userDrift[off + k] + pull + MODEL.driftNoise * rng.normal();
    }
  }
}

/** A few items a day start trending: half of them new (last 3 days), the rest any item. */
export function startTrends(state: SimState, rng: Rng, day: number, existing: number): void {
  if (existing === 0) return;
  const count = Math.max(1, Math.round(existing * 0.002));
  const recentFrom = firstCreatedAfter(state, existing, state.startMs + (day - 3) * DAY_MS);
  for (let j = 0; j < count; j++) {
    const item =
      rng.next() < 0.5 && recentFrom < existing ? recentFrom + rng.int(existing - recentFrom) : rng.int(existing);
    state.trends.push({ item, startDay: day, days: 2 + rng.int(3), boost: 1 + rng.next() });
  }
}

function firstCreatedAfter(state: SimState, count: number, t: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (state.itemCreatedMs[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What an item's newness adds on a day: the world's novelty, the items' creation times, the day's middle. */
export interface Newness {
  novelty: Novelty;
  itemCreatedMs: ArrayLike<number>;
  atMs: number;
}

/** The newness of a day of a world made with novelty, else undefined. */
export function newnessOn(novelty: Novelty | undefined, itemCreatedMs: ArrayLike<number>, dayStartMs: number) {
  return novelty ? { novelty, itemCreatedMs, atMs: dayStartMs + DAY_MS / 2 } : undefined;
}

/** The logit boost each item gets on a day from the trends active then, plus its newness in a world with novelty. */
export function trendBoosts(trends: readonly Trend[], day: number, itemCount: number, newness?: Newness): Float32Array {
  const boost = new Float32Array(itemCount);
  for (const t of trends) {
    if (t.startDay <= day && day < t.startDay + t.days && t.item < itemCount)
      boost[t.item] = Math.max(boost[t.item], t.boost);
  }
  if (newness)
    for (let i = 0; i < itemCount; i++)
      boost[i] += noveltyBoost(newness.novelty, newness.atMs - newness.itemCreatedMs[i]);
  return boost;
}

export interface SessionPlan {
  startMs: number;
  /** The topic on the user's mind in this session, or -1. */
  contextTopic: number;
}

/** Half the sessions come at the user's usual hour, half at the hour of one of their topics. */
export function planSession(state: SimState, rng: Rng, u: number, dayStart: number): SessionPlan {
  let hour: number;
  let contextTopic = -1;
  if (rng.next() < 0.5) hour = state.userPeakHour[u] + 2 * rng.normal();
  else {
    contextTopic = state.pickUserTopic(rng, u);
    hour = state.topicPeakHour[contextTopic] + 1.5 * rng.normal();
  }
  hour = ((hour % 24) + 24) % 24;
  // Late sessions start early enough to end within the day (and its partition).
  const startMs = Math.min(dayStart + Math.floor(hour * 3_600_000), dayStart + DAY_MS - 5 * 60_000);
  return { startMs, contextTopic };
}

class SessionRunner {
  private readonly shown: number[] = [];
  private readonly sessionVec = new Float32Array(DIM);

  constructor(
    private readonly state: SimState,
    private readonly pools: IncumbentPools,
    private readonly rng: Rng,
    private readonly boost: Float32Array,
    private readonly engagement: Float32Array,
    private readonly out: EventBuffer,
  ) {}

  run(u: number, k: number, plan: SessionPlan, interest: Float32Array): void {
    const { state, rng, out } = this;
    const { startMs: t0, contextTopic } = plan;
    if (t0 < state.userSignupMs[u]) return;

    const vec = sessionInterest(state, interest, contextTopic, this.sessionVec);
    const slots = 10 + rng.int(21);
    this.shown.length = 0;
    for (let pos = 0; pos < slots; pos++) {
      let pick = this.pools.pick(rng, u, t0);
      for (let tries = 0; tries < 3 && (pick.item < 0 || this.shown.includes(pick.item)); tries++)
        pick = this.pools.pick(rng, u, t0);
      if (pick.item < 0 || this.shown.includes(pick.item)) break;
      const item = pick.item;
      this.shown.push(item);

      const tShown = t0 + pos * IMPRESSION_GAP_MS + rng.int(2000);
      out.push(u, item, ACTION_CODE.impression, tShown, -1, k, pos, pick.source);
      this.engagement[item] += reactToSlot(
        state,
        rng,
        { user: u, item, position: pos, shownMs: tShown },
        vec,
        this.boost,
        (action, timeMs, board) => out.push(u, item, action, timeMs, board, k, pos, pick.source),
      );
    }
  }
}

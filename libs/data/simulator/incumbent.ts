// The "incumbent system": the feed that produced the logged impressions. It knows only what a
// real system would (popularity it observed, follows, declared and recently engaged topics,
// freshness) and mixes those sources, so the log carries its biases like a real one.
import type { Rng } from '../random.js';
import { DAY_MS } from '../world.js';
import { SimState } from './state.js';
import { topK } from '../../top-k/top-k.js';

export const SOURCES = ['popular', 'topic', 'followed_creator', 'followed_board', 'fresh', 'random'] as const;
const [POPULAR, TOPIC, FOLLOWED_CREATOR, FOLLOWED_BOARD, FRESH, RANDOM] = [0, 1, 2, 3, 4, 5];
/** Cumulative share of slots per source, in SOURCES order. */
const SOURCE_CUM = [0.25, 0.6, 0.75, 0.8, 0.9, 1.0];
const POPULAR_SIZE = 300;
const TOPIC_TOP_SIZE = 40;

/** What the incumbent prepares once a day: only items that existed when the day began. */
export class IncumbentPools {
  readonly existing: number;
  readonly freshFrom: number;
  readonly popular: Int32Array;
  readonly popularCum: Float64Array;
  readonly topicExisting: Int32Array;
  readonly topicTop: Int32Array[] = [];
  readonly topicTopCum: Float64Array[] = [];

  constructor(
    private readonly state: SimState,
    dayStartMs: number,
  ) {
    this.existing = state.itemCount;
    this.freshFrom = firstAtOrAfter(state.itemCreatedMs, state.itemCount, dayStartMs - 2 * DAY_MS);
    const all = new Int32Array(this.existing);
    for (let i = 0; i < this.existing; i++) all[i] = i;
    this.popular = Int32Array.from(topK(state.popularity, POPULAR_SIZE, { candidates: all }));
    this.popularCum = cumulativePopularity(state.popularity, this.popular);
    this.topicExisting = new Int32Array(state.topicCount);
    for (let t = 0; t < state.topicCount; t++) {
      const list = state.topicItems[t];
      const n = prefixBelow(list, this.existing);
      this.topicExisting[t] = n;
      const top = Int32Array.from(topK(state.popularity, TOPIC_TOP_SIZE, { candidates: list.slice(0, n) }));
      this.topicTop.push(top);
      this.topicTopCum.push(cumulativePopularity(state.popularity, top));
    }
  }

  /** One candidate for user u's session at sessionMs, with the source that proposed it; -1 if none. */
  pick(rng: Rng, u: number, sessionMs: number): { item: number; source: number } {
    const r = rng.next();
    let source = 0;
    while (r >= SOURCE_CUM[source]) source++;
    let item = -1;
    if (source === POPULAR) item = this.pickWeighted(rng, this.popular, this.popularCum);
    else if (source === FOLLOWED_CREATOR) item = this.pickFollowedCreator(rng, u, sessionMs);
    else if (source === FOLLOWED_BOARD) item = this.pickFollowedBoard(rng, u, sessionMs);
    else if (source === FRESH && this.freshFrom < this.existing)
      item = this.freshFrom + rng.int(this.existing - this.freshFrom);
    else if (source === RANDOM && this.existing > 0) item = rng.int(this.existing);
    if (item < 0) {
      source = TOPIC; // the fallback for every source that has nothing for this user
      item = this.pickTopic(rng, u);
    }
    return { item, source };
  }

  private pickWeighted(rng: Rng, list: Int32Array, cum: Float64Array): number {
    if (list.length === 0) return -1;
    return cum[cum.length - 1] > 0 ? list[rng.cumulativeIndex(cum)] : list[rng.int(list.length)];
  }

  private pickTopic(rng: Rng, u: number): number {
    const s = this.state;
    const known: number[] = [...s.userDeclared[u]];
    for (let j = 0; j < SimState.RECENT_TOPICS; j++) {
      const t = s.recentTopics[u * SimState.RECENT_TOPICS + j];
      if (t >= 0) known.push(t);
    }
    const topic = known.length > 0 ? known[rng.int(known.length)] : rng.cumulativeIndex(s.topicCum);
    if (rng.next() < 0.5) {
      const item = this.pickWeighted(rng, this.topicTop[topic], this.topicTopCum[topic]);
      if (item >= 0) return item;
    }
    const n = this.topicExisting[topic];
    if (n > 0) return s.topicItems[topic][rng.int(n)];
    return this.existing > 0 ? rng.int(this.existing) : -1;
  }

  private pickFollowedCreator(rng: Rng, u: number, sessionMs: number): number {
    const s = this.state;
    const follows = s.userFollowedCreators[u];
    if (follows.length === 0) return -1;
    const j = rng.int(follows.length);
    if (s.userFollowedCreatorMs[u][j] >= sessionMs) return -1;
    const items = s.creatorItems[follows[j]];
    const n = prefixBelow(items, this.existing);
    if (n === 0) return -1;
    return items[n - 1 - rng.int(Math.min(n, 30))]; // one of the creator's 30 newest
  }

  private pickFollowedBoard(rng: Rng, u: number, sessionMs: number): number {
    const s = this.state;
    const follows = s.userFollowedBoards[u];
    if (follows.length === 0) return -1;
    const j = rng.int(follows.length);
    if (s.userFollowedBoardMs[u][j] >= sessionMs) return -1;
    const items = s.boardItems[follows[j]];
    if (items.length === 0) return -1;
    const pick = rng.int(items.length);
    // Saves of the same day may be simulated before this session but happen after it.
    if (s.boardItemAddedMs[follows[j]][pick] >= sessionMs) return -1;
    const item = items[pick];
    return item < this.existing ? item : -1;
  }
}

/** Number of leading entries of an ascending list that are below limit. */
function prefixBelow(list: ArrayLike<number>, limit: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function firstAtOrAfter(times: Float64Array, count: number, t: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function cumulativePopularity(score: Float32Array, list: Int32Array): Float64Array {
  const cum = new Float64Array(list.length);
  let s = 0;
  for (let j = 0; j < list.length; j++) {
    s += Math.max(0, score[list[j]]);
    cum[j] = s;
  }
  return cum;
}

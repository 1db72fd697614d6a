// Sampled negatives for a log without an impression log of its own. An imported interaction file
// (MovieLens-style: user, item, time, maybe a rating) only says what users did: the importer writes
// every interaction as an impression plus its action, so no logged impression is a negative and a
// ranker trained on it as it is could only learn "saved vs clicked". Here each session gets, next
// to the items the user interacted with (the positives), items the user did not interact with,
// drawn as a popularity-led feed would have shown them at that time: in proportion to how many
// interactions the item had before the session's day, with a small uniform share over every item
// that existed then (so items nobody had touched yet are negatives too). Items the user had already
// interacted with before or in the session are never drawn. Popularity then tells positives from
// negatives only as far as it predicts demand, so beating popularity order takes the user's taste.
//
// Why counts, not the decayed popularity snapshot (the model's cand_popularity): on a sparse log
// the 3-day half-life concentrates the snapshot on the few items rated in the last days, so negatives
// drawn from it are far more "popular" than what users actually rate; a model (and the popularity
// baseline, AUC 0.26 on the small MovieLens-style fixture) then learns "unpopular means positive", an
// artifact of the sampling that would push every popular candidate down at serving.
import { createRng, hashSeed } from '../data/random.js';

/** Sampled negatives per positive of a session. */
export const NEGATIVES_PER_POSITIVE = 4;
/** At most this many sampled negatives in one session. */
const MAX_NEGATIVES_PER_SESSION = 200;
/** Share of the sampling mass spread evenly over every item that existed at the session's day. */
const UNIFORM_SHARE = 0.1;
const DAY_MS = 86_400_000;

/** One session of the log: its user, its start and its items (positives: the user interacted). */
export interface LoggedSession {
  user: string;
  session: string;
  startMs: number;
  items: string[];
  positive: boolean[];
}

export interface NegativeSamplingInput {
  sessions: readonly LoggedSession[];
  /** Catalog items and when each appeared (null: always there). */
  catalog: readonly { itemId: string; createdMs: number | null }[];
  seed: number;
}

/**
 * Per session (same order as input.sessions), the sampled negative item ids: NEGATIVES_PER_POSITIVE
 * per positive (none for a session without positives), distinct, never an item of the user's
 * sessions up to and including this one. Deterministic for a seed: each session has its own stream.
 */
export function sampleNegatives(input: NegativeSamplingInput): string[][] {
  const out: string[][] = input.sessions.map(() => []);
  // Per user, the index of the first session holding each item (sessions come per user, in time order).
  const firstTouch = firstTouchByUser(input.sessions);
  // One day's sampler at a time: the sessions grouped by their day.
  const byDay = new Map<number, number[]>();
  input.sessions.forEach((s, i) => {
    const day = Math.floor(s.startMs / DAY_MS) * DAY_MS;
    (byDay.get(day) ?? byDay.set(day, []).get(day)!).push(i);
  });
  // Days in order; each day's interactions are counted after its sessions are sampled (as of its start).
  const counts = new Map<string, number>();
  for (const day of [...byDay.keys()].sort((a, b) => a - b)) {
    const sessionIdx = byDay.get(day)!;
    const sampler = daySampler(input.catalog, counts, day);
    for (const i of sessionIdx)
      input.sessions[i].items.forEach(
        (item, n) => input.sessions[i].positive[n] && counts.set(item, (counts.get(item) ?? 0) + 1),
      );
    if (!sampler) continue;
    for (const i of sessionIdx) {
      const s = input.sessions[i];
      const positives = s.positive.filter(Boolean).length;
      const wanted = Math.min(MAX_NEGATIVES_PER_SESSION, NEGATIVES_PER_POSITIVE * positives, sampler.items.length);
      if (wanted === 0) continue;
      const rng = createRng(hashSeed(input.seed, s.user, s.session));
      const first = firstTouch.get(s.user)!;
      const picked = new Set<string>();
      for (let attempt = 0; attempt < 20 * wanted && picked.size < wanted; attempt++) {
        const item = sampler.items[rng.cumulativeIndex(sampler.cumulative)];
        if ((first.get(item) ?? Infinity) > i) picked.add(item);
      }
      out[i] = [...picked];
    }
  }
  return out;
}

/** Items that existed at the day's start, with cumulative sampling weights; undefined when none did. */
function daySampler(
  catalog: NegativeSamplingInput['catalog'],
  popularity: ReadonlyMap<string, number>,
  dayMs: number,
): { items: string[]; cumulative: Float64Array } | undefined {
  const items = catalog
    .filter((c) => c.createdMs == null || c.createdMs < dayMs || popularity.has(c.itemId))
    .map((c) => c.itemId);
  if (items.length === 0) return undefined;
  let total = 0;
  for (const id of items) total += Math.max(0, popularity.get(id) ?? 0);
  const uniform = total > 0 ? UNIFORM_SHARE / items.length : 1 / items.length;
  const cumulative = new Float64Array(items.length);
  let acc = 0;
  items.forEach((id, i) => {
    acc += uniform + (total > 0 ? ((1 - UNIFORM_SHARE) * Math.max(0, popularity.get(id) ?? 0)) / total : 0);
    cumulative[i] = acc;
  });
  return { items, cumulative };
}

/** Per user: item → index of the first of the user's sessions that holds it. */
function firstTouchByUser(sessions: readonly LoggedSession[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  sessions.forEach((s, i) => {
    const first = out.get(s.user) ?? out.set(s.user, new Map()).get(s.user)!;
    for (const item of s.items) if (!first.has(item)) first.set(item, i);
  });
  return out;
}

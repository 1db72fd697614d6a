// The simulator's true chance that a user engages with an item if shown, for every item that
// existed when a day began: what the oracle ranks by and what the eval scores every list by. It
// uses the user's interest of that day (long-term plus drift), not any one session.
import fs from 'node:fs';
import path from 'node:path';
import { DAY_MS, worldPaths } from '../world.js';
import { newnessOn, trendBoosts } from './day.js';
import { DIM, MODEL, currentInterest, engagementFromLogits, itemClickTerm, itemSaveTerm } from './model.js';
import { topK } from '../../top-k/top-k.js';
import { readTruth, type Truth } from './truth.js';

const cache = new Map<string, { mtimeMs: number; truth: Promise<Truth> }>();

/** Loads a world's truth once per process (reloaded if the world was re-simulated or continued). */
function loadTruth(worldDir: string): Promise<Truth> {
  const metaFile = path.join(worldPaths(worldDir).truth, 'meta.json');
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(metaFile).mtimeMs;
  } catch {
    return Promise.reject(
      new Error(
        `world ${path.resolve(worldDir)} has no simulator truth (${metaFile} is missing): the oracle needs a simulated world`,
      ),
    );
  }
  const key = path.resolve(worldDir);
  const hit = cache.get(key);
  if (hit && hit.mtimeMs === mtimeMs) return hit.truth;
  const truth = readTruth(worldDir);
  cache.set(key, { mtimeMs, truth });
  truth.catch(() => cache.delete(key));
  return truth;
}

/** One user's true P(engage | shown) on the day (expected clicks plus saves, top slot). */
export interface UserTruth {
  /** The item's true P(engage | shown); 0 for an item that did not exist when the day began. */
  of(itemId: string): number;
  /** The k items with the highest true P(engage | shown), best first, none of those in `skip`. */
  best(k: number, skip?: ReadonlySet<string>): string[];
}

/**
 * Calls visit once per user, in order, with that user's truth on dayIndex. The truth is valid only
 * during the call (its buffer is reused for the next user).
 */
export async function forEachUserTruth(
  worldDir: string,
  userIds: readonly string[],
  dayIndex: number,
  visit: (userId: string, truth: UserTruth) => void,
): Promise<void> {
  const truth = await loadTruth(worldDir);
  const { meta } = truth;
  if (!Number.isInteger(dayIndex) || dayIndex < 0 || dayIndex >= meta.days) {
    throw new Error(`oracle day ${dayIndex} is outside the world's days 0..${meta.days - 1}`);
  }
  const dayStart = meta.startMs + dayIndex * DAY_MS;
  let existing = 0;
  while (existing < meta.items && truth.itemCreatedMs[existing] < dayStart) existing++;
  const boost = trendBoosts(meta.trends, dayIndex, existing, newnessOn(meta.novelty, truth.itemCreatedMs, dayStart));

  // The user-independent parts of the logits, once per call; per user only the dot product and
  // locale term are added (the same sums clickLogit and saveLogit make).
  const clickTerm = new Float64Array(existing);
  const saveTerm = new Float64Array(existing);
  for (let i = 0; i < existing; i++) {
    clickTerm[i] = itemClickTerm(truth.itemLogQuality[i], boost[i]);
    saveTerm[i] = itemSaveTerm(truth.itemLogQuality[i]);
  }
  // Locals, not property loads, inside the hot loop below.
  const { itemVec, itemLocale } = truth;
  const { clickAffinity, saveAffinity, localeMatch } = MODEL;

  const interest = new Float32Array(DIM);
  const score = new Float64Array(existing);
  const indexOf = (itemId: string) => {
    const i = /^i(0|[1-9]\d*)$/.test(itemId) ? Number(itemId.slice(1)) : -1;
    return i < existing ? i : -1;
  };
  const user: UserTruth = {
    of: (itemId) => {
      const i = indexOf(itemId);
      return i < 0 ? 0 : score[i];
    },
    best: (k, skip) =>
      topK(score, k, { exclude: [...(skip ?? [])].map(indexOf).filter((i) => i >= 0) }).map((i) => `i${i}`),
  };
  const drift = truth.userDrift.subarray(dayIndex * meta.users * DIM, (dayIndex + 1) * meta.users * DIM);
  for (const id of userIds) {
    const u = /^u(\d+)$/.exec(id) ? Number(id.slice(1)) : -1;
    if (u < 0 || u >= meta.users)
      throw new Error(`oracle: unknown user '${id}' (this world has u0..u${meta.users - 1})`);
    currentInterest(truth.userVec, drift, u * DIM, interest);
    const locale = truth.userLocale[u];
    for (let i = 0; i < existing; i++) {
      let dot = 0;
      for (let k = 0, off = i * DIM; k < DIM; k++) dot += interest[k] * itemVec[off + k];
      const localeTerm = itemLocale[i] === locale ? localeMatch : 0;
      score[i] = engagementFromLogits(
        clickTerm[i] + clickAffinity * dot + localeTerm,
        saveTerm[i] + saveAffinity * dot,
      );
    }
    visit(id, user);
  }
}

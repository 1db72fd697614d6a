// The true engagement model: how likely a user is to click, save or hide an item. The simulator
// draws behaviour from it and the oracle ranks by it, so both import it from here.

/** Dimension of the latent interest space. */
export const DIM = 16;

export const MODEL = {
  clickBias: -2.6,
  clickAffinity: 3.2,
  clickQuality: 0.7,
  localeMatch: 0.6,
  saveBias: -2.3,
  saveAffinity: 2.2,
  saveQuality: 0.4,
  /** Hide chance for an examined, unclicked item: likelier the worse it fits. */
  hideBias: -3.2,
  hideAffinity: -3.5,
  /** Chance to look at the item in slot p (0-based) is 1 / (1 + positionDecay * p). */
  positionDecay: 0.08,
  /** How much a session's hour-linked topic pulls the user's interest during that session. */
  sessionTopicPull: 0.5,
  /** Day-to-day persistence of the short-term interest drift. */
  driftPersistence: 0.7,
  /** Chance per day that a user picks up a passing interest in some topic, and its strength. */
  passingInterestChance: 0.25,
  passingInterestStrength: 0.6,
  driftNoise: 0.05,
} as const;

/**
 * New items that matter (off unless a world is made with it): an item's click logit gains `boost`
 * for its newness, halving every `halfLifeDays` of its age. Without it a new item is no more
 * engaging than an old one of the same fit, and a stale index loses little by missing it.
 */
export interface Novelty {
  boost: number;
  halfLifeDays: number;
}

/** The novelty term of an item of this age (ms; a future creation counts as new). */
export const noveltyBoost = (n: Novelty, ageMs: number) =>
  n.boost * 0.5 ** (Math.max(0, ageMs) / 86_400_000 / n.halfLifeDays);

/** "BOOST,HALF_LIFE_DAYS" (e.g. "1,2"), as `build-world --novelty` takes it; the ranges are checked where a world is made. */
export function parseNovelty(text: string): Novelty {
  const [boost, halfLifeDays, ...rest] = text.split(',').map(Number);
  if (rest.length > 0 || !Number.isFinite(boost) || !Number.isFinite(halfLifeDays))
    throw new Error(`--novelty: expected BOOST,HALF_LIFE_DAYS (e.g. 1,2), got "${text}"`);
  return { boost, halfLifeDays };
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** The user-independent part of the click logit (precomputed per item by the oracle). */
export function itemClickTerm(logQuality: number, trendBoost: number): number {
  return MODEL.clickBias + MODEL.clickQuality * logQuality + trendBoost;
}

/** The user-independent part of the save-once-clicked logit. */
export function itemSaveTerm(logQuality: number): number {
  return MODEL.saveBias + MODEL.saveQuality * logQuality;
}

export function clickLogit(dot: number, logQuality: number, localeMatch: boolean, trendBoost: number): number {
  return itemClickTerm(logQuality, trendBoost) + MODEL.clickAffinity * dot + (localeMatch ? MODEL.localeMatch : 0);
}

/** Chance of a save once clicked. */
export function saveLogit(dot: number, logQuality: number): number {
  return itemSaveTerm(logQuality) + MODEL.saveAffinity * dot;
}

export function hideLogit(dot: number): number {
  return MODEL.hideBias + MODEL.hideAffinity * dot;
}

export function examineProbability(position: number): number {
  return 1 / (1 + MODEL.positionDecay * position);
}

/** Expected engagement (clicks + saves) if the item is shown in the top slot. The oracle ranks by this. */
export function expectedEngagement(dot: number, logQuality: number, localeMatch: boolean, trendBoost: number): number {
  return engagementFromLogits(clickLogit(dot, logQuality, localeMatch, trendBoost), saveLogit(dot, logQuality));
}

/** P(click) * (1 + P(save | click)): expected clicks plus saves. */
export function engagementFromLogits(clickLogit: number, saveLogit: number): number {
  return sigmoid(clickLogit) * (1 + sigmoid(saveLogit));
}

export function dotAt(a: Float32Array, ai: number, b: Float32Array, bi: number): number {
  let s = 0;
  for (let k = 0; k < DIM; k++) s += a[ai + k] * b[bi + k];
  return s;
}

/** Scales vec[offset .. offset+DIM) to unit length (left as is if zero). */
export function normalizeAt(vec: Float32Array, offset: number): void {
  let s = 0;
  for (let k = 0; k < DIM; k++) s += vec[offset + k] * vec[offset + k];
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let k = 0; k < DIM; k++) vec[offset + k] *= inv;
}

/** out = normalize(base + drift): the user's interest on a given day. */
export function currentInterest(base: Float32Array, drift: Float32Array, offset: number, out: Float32Array): void {
  for (let k = 0; k < DIM; k++) out[k] = base[offset + k] + drift[offset + k];
  normalizeAt(out, 0);
}

// How a user reacts to one shown slot: the simulator's engagement model in action. The simulated
// days (day.ts, the incumbent's feed) and live users on a running mesh (live-session.ts) both call
// it, so there is one engagement model.
import type { Rng } from '../random.js';
import { ACTION_CODE } from './event-buffer.js';
import {
  DIM,
  MODEL,
  clickLogit,
  dotAt,
  examineProbability,
  hideLogit,
  normalizeAt,
  saveLogit,
  sigmoid,
} from './model.js';
import type { SimState } from './state.js';

export interface ShownSlot {
  user: number;
  item: number;
  /** 0-based slot on the page. */
  position: number;
  shownMs: number;
}

/** One reaction: a click, save (with its board) or hide, at its time. */
export type RecordAction = (action: number, timeMs: number, board: number) => void;

/** The session's interest: the day's interest pulled toward the session's topic (or -1), unit length. */
export function sessionInterest(
  state: SimState,
  interest: Float32Array,
  contextTopic: number,
  out: Float32Array,
): Float32Array {
  for (let d = 0; d < DIM; d++)
    out[d] = interest[d] + (contextTopic >= 0 ? MODEL.sessionTopicPull * state.topicVec[contextTopic * DIM + d] : 0);
  normalizeAt(out, 0);
  return out;
}

/**
 * Draws the user's reaction to a shown item (examined by position, then click, save or hide from
 * the true logits), records it, and applies what it changes in the world (recent topics, boards,
 * follows). Returns the engagement the incumbent counts for popularity: 1 a click, 4 a save.
 */
export function reactToSlot(
  state: SimState,
  rng: Rng,
  slot: ShownSlot,
  sessionVec: Float32Array,
  trendBoost: Float32Array,
  record: RecordAction,
): number {
  const { user: u, item, position, shownMs } = slot;
  if (rng.next() >= examineProbability(position)) return 0;
  const dot = dotAt(sessionVec, 0, state.itemVec, item * DIM);
  const logQ = state.itemLogQuality[item];
  const localeMatch = state.userLocale[u] === state.itemLocale[item];
  if (rng.next() < sigmoid(clickLogit(dot, logQ, localeMatch, trendBoost[item] ?? 0))) {
    const tClick = shownMs + 2000 + rng.int(18_000);
    record(ACTION_CODE.click, tClick, -1);
    state.rememberTopic(u, state.itemTopic[item]);
    if (rng.next() >= sigmoid(saveLogit(dot, logQ))) return 1;
    const board = state.boardForSave(u, item);
    const tSave = tClick + 5000 + rng.int(55_000);
    record(ACTION_CODE.save, tSave, board);
    state.addToBoard(board, item, tSave);
    if (rng.next() < 0.08) state.followCreator(u, state.itemCreator[item], tSave);
    return 4;
  }
  if (rng.next() < sigmoid(hideLogit(dot))) record(ACTION_CODE.hide, shownMs + 1000 + rng.int(4000), -1);
  return 0;
}

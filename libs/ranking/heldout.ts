// Held-out evaluation of a ranker model as it is served: every held-out session of the dataset
// (val_requests.json) becomes the Rank request the ranker would have received at the session's
// start (the user's actions before it, the impressions as candidates with their source and slot),
// encoded by the serving encoder and scored by the exported ONNX model. Baselines are scored on the
// same sessions: the incumbent's page order (position) and popularity order.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Action } from '../../generated/feedloom/v1/common.js';
import type { OnnxSessionPool } from '../onnx/pool.js';
import type { Feeds } from '../onnx/tensors.js';
import { VAL_REQUESTS_FILE, type RankerBaseline, type ValRequests } from './dataset.js';
import {
  encodeRankInputs,
  HEADS,
  SEQ_LEN,
  type RankerEncoding,
  type RankerItem,
  type RankSourceInput,
  type UtilityWeights,
  utilityOf,
} from './encoding.js';
import { auc, hitAtK, recallAtK } from './metrics.js';

/** The page size of recall20_click. */
const RECALL_K = 20;

const ACTION_TYPE_OF_CODE = [0, 2, 3, 4]; // code (1 click, 2 save, 3 hide) → ActionType
const DAY_MS = 86_400_000;
/** A generator name no vocabulary holds (encodes as unknown). */
const HIDDEN_SOURCE = '__hidden_slot__';

/**
 * A metric that cannot be computed is absent, never NaN: an AUC when the held-out impressions lack
 * a class (a log without hides has no auc_hide), hit3_save when no held-out request has a save.
 */
export interface HeldoutMetrics {
  auc_click?: number;
  auc_save?: number;
  auc_hide?: number;
  /** Share of held-out requests with a save whose top 3 by the save head holds a saved item. */
  hit3_save?: number;
  /**
   * Recall@20 by the click head (any interaction), per request with one, averaged: the eval's
   * recall@K within the request's candidates. Only where requests are longer than a page of 20
   * (replayed candidates); absent on logged pages.
   */
  recall20_click?: number;
  /**
   * The same recall@20 with the candidates in the served order: by utility (Σ weight × head
   * probability), as the blender pages them. Only when the utility's weights are given.
   */
  recall20_utility?: number;
  requests: number;
  impressions: number;
  requestsWithSave: number;
}

/** Per held-out session: candidates' scores for the three heads, and the labels. */
export interface ScoredSession {
  scores: Float32Array[]; // [click, save, hide], each [n]
  labels: Uint8Array[]; // [click, save, hide], each [n]
}

export async function readValRequests(datasetDir: string): Promise<ValRequests> {
  return JSON.parse(await readFile(join(datasetDir, VAL_REQUESTS_FILE), 'utf8')) as ValRequests;
}

export interface HeldoutSourceOptions {
  /**
   * Every candidate gets the same proposal (an unknown generator, rank 0): the model cannot tell
   * where the incumbent placed it.
   */
  hideSlot?: boolean;
  /**
   * Per session, per candidate: the proposals to send instead of the incumbent's (generator, slot),
   * e.g. the mesh generators' as replayed for the blender's pre-score, as at serving time.
   */
  sources?: readonly (readonly RankSourceInput[])[][];
}

/** The held-out sessions as (user, candidates, lookup, time) tuples ready for encodeRankInputs. */
export function heldoutRequests(val: ValRequests, options: HeldoutSourceOptions = {}) {
  const items = new Map(Object.entries(val.items));
  const popularity = new Map(
    Object.entries(val.popularity).map(([day, pop]) => [Number(day), new Map(Object.entries(pop))]),
  );
  if (options.sources && options.sources.length !== val.sessions.length)
    throw new Error(`heldoutRequests: ${options.sources.length} source lists for ${val.sessions.length} sessions`);
  return val.sessions.map((s, si) => {
    const u = val.users[s.user] ?? { locale: '', actions: [] };
    const recentActions: Action[] = [];
    for (let i = s.histCount - 1; i >= 0 && recentActions.length < SEQ_LEN; i--) {
      const [itemId, code, timeMs] = u.actions[i];
      recentActions.push({ itemId, type: ACTION_TYPE_OF_CODE[code], timeMs, boardId: '' });
    }
    const pop = popularity.get(Math.floor(s.timeMs / DAY_MS) * DAY_MS) ?? new Map<string, number>();
    const lookup = (id: string): RankerItem | undefined => {
      const row = items.get(id);
      return row
        ? { topic: row[0], creatorId: row[1], locale: row[2], createdMs: row[3], popularity: pop.get(id) ?? 0 }
        : undefined;
    };
    return {
      session: s,
      user: { recentActions, locale: u.locale },
      candidates: s.candidates.map(([itemId, generator, rank], ci) => ({
        itemId,
        sources: options.sources
          ? options.sources[si][ci].map((p) => ({ generator: p.generator, rank: p.rank }))
          : options.hideSlot
            ? [{ generator: HIDDEN_SOURCE, rank: 0 }]
            : s.sources
              ? s.sources[ci].map(([g, r]) => ({ generator: g, rank: r }))
              : generator
                ? [{ generator, rank }]
                : [],
      })),
      lookup,
      labels: HEADS.map((_, h) => Uint8Array.from(s.labels, (l) => l[h])),
    };
  });
}

/** Scores every held-out session with the model (concurrency: requests in flight at once). */
export async function scoreHeldout(
  pool: OnnxSessionPool,
  encoding: RankerEncoding,
  val: ValRequests,
  options: HeldoutSourceOptions & { concurrency?: number } = {},
): Promise<ScoredSession[]> {
  const requests = heldoutRequests(val, options);
  const concurrency = options.concurrency ?? 4;
  const out: ScoredSession[] = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      const r = requests[i];
      const feeds = encodeRankInputs(r.user, r.candidates, r.lookup, r.session.timeMs, encoding);
      const own: Feeds = {};
      for (const name of pool.inputNames) own[name] = feeds[name];
      const outputs = await pool.run(own);
      out[i] = { scores: HEADS.map((h) => outputs[`p_${h}`].data as Float32Array), labels: r.labels };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return out;
}

/**
 * Baseline scores on the same sessions: "position" (the incumbent's page order), "prescore" (the
 * blender's pre-score order of replayed candidates: their place, stored as the rank) or "popularity".
 */
export function baselineSessions(val: ValRequests, baseline: RankerBaseline): ScoredSession[] {
  return heldoutRequests(val).map((r) => {
    const s = Float32Array.from(r.session.candidates, ([itemId, , rank]) =>
      baseline === 'popularity' ? (r.lookup(itemId)?.popularity ?? 0) : -rank,
    );
    return { scores: [s, s, s], labels: r.labels };
  });
}

export function heldoutMetrics(sessions: ScoredSession[], utility?: UtilityWeights): HeldoutMetrics {
  const concat = (pick: (s: ScoredSession) => ArrayLike<number>) => {
    const total = sessions.reduce((n, s) => n + pick(s).length, 0);
    const out = new Float64Array(total);
    let o = 0;
    for (const s of sessions) {
      const a = pick(s);
      for (let i = 0; i < a.length; i++) out[o++] = a[i];
    }
    return out;
  };
  const m = HEADS.map((_, h) =>
    auc(
      concat((s) => s.scores[h]),
      concat((s) => s.labels[h]),
    ),
  );
  const hit = hitAtK(
    sessions.map((s) => ({ scores: s.scores[1], labels: s.labels[1] })),
    3,
  );
  const longest = sessions.reduce((n, s) => Math.max(n, s.labels[0].length), 0);
  const recall =
    longest > RECALL_K
      ? recallAtK(
          sessions.map((s) => ({ scores: s.scores[0], labels: s.labels[0] })),
          RECALL_K,
        ).recall
      : NaN;
  const servedRecall =
    utility && longest > RECALL_K
      ? recallAtK(
          sessions.map((s) => ({
            scores: s.scores[0].map((click, i) =>
              utilityOf(utility, { click, save: s.scores[1][i], hide: s.scores[2][i] }),
            ),
            labels: s.labels[0],
          })),
          RECALL_K,
        ).recall
      : NaN;
  const present = (key: string, x: number) => (Number.isNaN(x) ? {} : { [key]: x });
  return {
    ...present('auc_click', m[0]),
    ...present('auc_save', m[1]),
    ...present('auc_hide', m[2]),
    ...present('hit3_save', hit.hit),
    ...present('recall20_click', recall),
    ...present('recall20_utility', servedRecall),
    requests: sessions.length,
    impressions: sessions.reduce((n, s) => n + s.labels[0].length, 0),
    requestsWithSave: hit.requests,
  };
}

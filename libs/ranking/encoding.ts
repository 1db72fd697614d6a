// The ranker's feature encoding: how one user's context and their candidates become the input
// tensors of ranker.onnx. The training-data builder (libs/ranking/dataset.ts) and the Ranker service
// both call these functions, so a model is served exactly the features it was trained on. The
// encoding is parameterized by the vocabularies in the model's manifest; numbers (time gaps, ages,
// popularity, ranks) go in raw and the model buckets them itself, with edges baked into the graph.
import { ActionType, type Action } from '../../generated/feedloom/v1/common.js';
import type { BaseManifest } from '../registry/registry.js';
import type { Feeds } from '../onnx/tensors.js';

export const RANKER_MODEL = 'ranker';
export const RANKER_KIND = 'transact_ranker';
export const RANKER_FILE = 'ranker.onnx';
/** Inputs and the outputs PyTorch computed for them, written by the trainer; the service checks ONNX reproduces them. */
export const PROBE_FILE = 'probe.json';

/** Vocabulary index of padding (an empty slot, an absent value). */
export const PAD = 0;
/** Vocabulary index of an id the vocabulary lacks (new items, unknown generators). */
export const OOV = 1;
/** Actions of the sequence the model reads (the newest of UserContext.recent_actions). */
export const SEQ_LEN = 100;
/** Proposals per candidate the model reads (best-ranked first). */
export const MAX_SOURCES = 4;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export const HEADS = ['click', 'save', 'hide'] as const;
export type Head = (typeof HEADS)[number];

/** Sequence codes of the actions (0 = padding). Impressions are not in the sequence. */
export const ACTION_CODE: Partial<Record<ActionType, number>> = {
  [ActionType.ACTION_TYPE_CLICK]: 1,
  [ActionType.ACTION_TYPE_SAVE]: 2,
  [ActionType.ACTION_TYPE_HIDE]: 3,
};
export const ACTION_CODE_BY_NAME: Readonly<Record<string, number>> = { click: 1, save: 2, hide: 3 };

/** One user's inputs, shape [1, n] with n ≤ seqLen actions (user_locale: [1]); the model encodes them once per call. */
export const SEQ_INPUTS = ['seq_item', 'seq_topic', 'seq_action', 'seq_gap_hours', 'user_locale'] as const;
/** One row per candidate, shape [N] (or [N, MAX_SOURCES]); N is the dynamic batch. */
export const CAND_INPUTS = [
  'cand_item',
  'cand_topic',
  'cand_creator',
  'cand_locale',
  'cand_age_days',
  'cand_popularity',
  'cand_source',
  'cand_rank',
  'cand_after_last_days',
] as const;
/** Candidate inputs a model may lack: models trained before they existed still load and are fed the rest. */
export const OPTIONAL_CAND_INPUTS: readonly string[] = ['cand_after_last_days'];
export const RANKER_INPUTS: readonly string[] = [...SEQ_INPUTS, ...CAND_INPUTS];
/** Each head's probability, shape [N]. */
export const RANKER_OUTPUTS: readonly string[] = HEADS.map((h) => `p_${h}`);

export interface RankerVocab {
  /** Index 0 = padding, 1 = unknown (OOV); real values from 2. */
  items: string[];
  topics: string[];
  creators: string[];
  locales: string[];
  /** Generator (source) names. */
  sources: string[];
}

/** What a model version needs to encode its inputs (recorded in its manifest). */
export interface RankerEncoding {
  vocab: RankerVocab;
  seqLen: number;
  maxSources: number;
  /** Bucket edges the model applies inside the graph (recorded for reference; the encoding sends raw values). */
  buckets: { gapHours: number[]; ageDays: number[]; popularity: number[]; rank: number[]; afterLastDays?: number[] };
}

export interface RankerManifest extends BaseManifest {
  kind: typeof RANKER_KIND;
  /** "sequence" (the served design) or an alternative the trainer can build for comparison. */
  variant: string;
  encoding: RankerEncoding;
  onnx: { opset: number; file: string; inputs: string[]; outputs: string[] };
  heads: Head[];
  /** Events the model was trained on, [startMs, endMs), and the held-out window its metrics come from. */
  dataWindow: { startMs: number; endMs: number };
  validationWindow: { startMs: number; endMs: number } | null;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
}

/** What the ranker knows about a catalog item (from the item_meta and popularity snapshots). */
export interface RankerItem {
  topic: string | null;
  creatorId: string | null;
  locale: string | null;
  createdMs: number | null;
  /** Time-decayed engagement (the popularity batch job's score); 0 when the item is not among its rows. */
  popularity: number;
}

export type ItemLookup = (itemId: string) => RankerItem | undefined;

export interface RankSourceInput {
  generator: string;
  rank: number;
}

export interface RankCandidateInput {
  itemId: string;
  sources: readonly RankSourceInput[];
}

/** The parts of a UserContext the ranker reads. */
export interface RankUserInput {
  recentActions: readonly Action[];
  locale: string;
}

interface Lookups {
  items: Map<string, number>;
  topics: Map<string, number>;
  creators: Map<string, number>;
  locales: Map<string, number>;
  sources: Map<string, number>;
}
const lookupCache = new WeakMap<RankerVocab, Lookups>();

function lookups(vocab: RankerVocab): Lookups {
  let cached = lookupCache.get(vocab);
  if (!cached) {
    const toMap = (list: string[]) => new Map(list.map((v, i) => [v, i] as const).filter(([, i]) => i > OOV));
    cached = {
      items: toMap(vocab.items),
      topics: toMap(vocab.topics),
      creators: toMap(vocab.creators),
      locales: toMap(vocab.locales),
      sources: toMap(vocab.sources),
    };
    lookupCache.set(vocab, cached);
  }
  return cached;
}

/** Index of a value: PAD for none (null or empty), OOV when the vocabulary lacks it. */
const indexOf = (map: Map<string, number>, value: string | null | undefined) =>
  value == null || value === '' ? PAD : (map.get(value) ?? OOV);

/** Vocabulary index of an item id (OOV when unknown). */
export function itemIndex(vocab: RankerVocab, itemId: string): number {
  return indexOf(lookups(vocab).items, itemId) || OOV;
}

/** Vocabulary index of an item's topic: PAD when the item or its topic is unknown. */
export function topicIndex(vocab: RankerVocab, info: RankerItem | undefined): number {
  return info ? indexOf(lookups(vocab).topics, info.topic) : PAD;
}

export function localeIndex(vocab: RankerVocab, locale: string | null | undefined): number {
  return indexOf(lookups(vocab).locales, locale);
}

/** Hours from an action to the request, never negative (clocks may disagree by a little). */
export const gapHours = (requestMs: number, actionMs: number) => Math.max(0, requestMs - actionMs) / HOUR_MS;
/** Days since the item was created, or -1 when unknown. */
export const ageDays = (requestMs: number, createdMs: number | null) =>
  createdMs == null ? -1 : Math.max(0, requestMs - createdMs) / DAY_MS;

/** cand_after_last_days when the item's creation or the user's last action is unknown (beyond every edge). */
export const UNKNOWN_AFTER_LAST = 1e6;
const AFTER_LAST_LIMIT_DAYS = 3650;
/**
 * Days from the user's newest click, save or hide to the item's creation: negative for items that
 * existed then, positive for items new since. It says what the user could have met on their last
 * visit, which item age alone cannot for a user who has been away (docs/RELEVANCE.md, "New since
 * the last visit").
 */
export const afterLastDays = (lastActionMs: number | null, createdMs: number | null) =>
  lastActionMs == null || createdMs == null
    ? UNKNOWN_AFTER_LAST
    : Math.min(AFTER_LAST_LIMIT_DAYS, Math.max(-AFTER_LAST_LIMIT_DAYS, (createdMs - lastActionMs) / DAY_MS));

/** The time of the user's newest click, save or hide (recent_actions is newest first), or null. */
export function lastActionMs(user: RankUserInput): number | null {
  for (const a of user.recentActions) if (ACTION_CODE[a.type] && a.itemId) return Number(a.timeMs);
  return null;
}

/**
 * The user's inputs: the newest seqLen clicks, saves and hides of recent_actions (newest first).
 * The length is the number of such actions (at least 1, a padding slot for an empty history): the
 * model masks padding, so [1, n] gives the same answer as [1, seqLen] and costs less.
 */
export function encodeSequence(user: RankUserInput, lookup: ItemLookup, requestMs: number, enc: RankerEncoding): Feeds {
  const wanted: Action[] = [];
  for (const a of user.recentActions) {
    if (wanted.length === enc.seqLen) break;
    if (ACTION_CODE[a.type] && a.itemId) wanted.push(a);
  }
  const L = Math.max(1, wanted.length);
  const item = new Int32Array(L);
  const topic = new Int32Array(L);
  const action = new Int32Array(L);
  const gap = new Float32Array(L);
  wanted.forEach((a, n) => {
    item[n] = itemIndex(enc.vocab, a.itemId);
    topic[n] = topicIndex(enc.vocab, lookup(a.itemId));
    action[n] = ACTION_CODE[a.type]!;
    gap[n] = gapHours(requestMs, Number(a.timeMs));
  });
  return {
    seq_item: { type: 'int32', data: item, dims: [1, L] },
    seq_topic: { type: 'int32', data: topic, dims: [1, L] },
    seq_action: { type: 'int32', data: action, dims: [1, L] },
    seq_gap_hours: { type: 'float32', data: gap, dims: [1, L] },
    user_locale: { type: 'int32', data: Int32Array.of(localeIndex(enc.vocab, user.locale)), dims: [1] },
  };
}

/** Column arrays of candidate features, one row per candidate (cand_source/cand_rank: maxSources per row). */
export interface CandidateColumns {
  cand_item: Int32Array;
  cand_topic: Int32Array;
  cand_creator: Int32Array;
  cand_locale: Int32Array;
  cand_age_days: Float32Array;
  cand_popularity: Float32Array;
  cand_source: Int32Array;
  cand_rank: Float32Array;
  cand_after_last_days: Float32Array;
}

export function allocateCandidates(n: number, enc: RankerEncoding): CandidateColumns {
  const K = enc.maxSources;
  return {
    cand_item: new Int32Array(n),
    cand_topic: new Int32Array(n),
    cand_creator: new Int32Array(n),
    cand_locale: new Int32Array(n),
    cand_age_days: new Float32Array(n),
    cand_popularity: new Float32Array(n),
    cand_source: new Int32Array(n * K),
    cand_rank: new Float32Array(n * K).fill(-1),
    cand_after_last_days: new Float32Array(n),
  };
}

/** Reused by byRank: a Rank request sorts hundreds of short source lists, and a copy each was garbage. */
const sortedSources: RankCandidateInput['sources'][number][] = [];

/** The sources best rank first (stable), in a scratch array valid until the next call. */
function byRank(sources: RankCandidateInput['sources']): RankCandidateInput['sources'] {
  sortedSources.length = 0;
  for (const s of sources) {
    let i = sortedSources.push(s) - 1;
    for (; i > 0 && sortedSources[i - 1].rank > s.rank; i--) sortedSources[i] = sortedSources[i - 1];
    sortedSources[i] = s;
  }
  return sortedSources;
}

/**
 * Writes one candidate into row `row`: ids through the vocabularies, age and popularity as of the
 * request, its creation against the user's last action, and up to maxSources proposals, best rank
 * first (padding: source 0, rank -1; all padding when the vocabulary holds no generator).
 */
export function encodeCandidateInto(
  out: CandidateColumns,
  row: number,
  candidate: RankCandidateInput,
  lookup: ItemLookup,
  time: { requestMs: number; lastActionMs: number | null },
  enc: RankerEncoding,
): void {
  const { requestMs } = time;
  const maps = lookups(enc.vocab);
  const info = lookup(candidate.itemId);
  out.cand_item[row] = itemIndex(enc.vocab, candidate.itemId);
  out.cand_topic[row] = topicIndex(enc.vocab, info);
  out.cand_creator[row] = info ? indexOf(maps.creators, info.creatorId) : PAD;
  out.cand_locale[row] = info ? indexOf(maps.locales, info.locale) : PAD;
  out.cand_age_days[row] = ageDays(requestMs, info?.createdMs ?? null);
  out.cand_popularity[row] = info ? Math.max(0, info.popularity) : 0;
  out.cand_after_last_days[row] = afterLastDays(time.lastActionMs, info?.createdMs ?? null);
  const K = enc.maxSources;
  // A model whose log named no generators (an imported log) never learnt a source embedding: it reads none.
  if (enc.vocab.sources.length <= OOV + 1) return;
  const sources = candidate.sources.length <= 1 ? candidate.sources : byRank(candidate.sources);
  for (let k = 0; k < K; k++) {
    const s = sources[k];
    if (!s) break;
    out.cand_source[row * K + k] = indexOf(maps.sources, s.generator) || OOV;
    out.cand_rank[row * K + k] = s.rank >= 0 ? s.rank : -1;
  }
}

/** The ONNX feeds for scoring all of one user's candidates in one call. */
export function encodeRankInputs(
  user: RankUserInput,
  candidates: readonly RankCandidateInput[],
  lookup: ItemLookup,
  requestMs: number,
  enc: RankerEncoding,
): Feeds {
  const N = candidates.length;
  const cols = allocateCandidates(N, enc);
  const time = { requestMs, lastActionMs: lastActionMs(user) };
  for (let i = 0; i < N; i++) encodeCandidateInto(cols, i, candidates[i], lookup, time, enc);
  return { ...encodeSequence(user, lookup, requestMs, enc), ...candidateFeeds(cols, N, enc) };
}

export function candidateFeeds(cols: CandidateColumns, n: number, enc: RankerEncoding): Feeds {
  const K = enc.maxSources;
  return {
    cand_item: { type: 'int32', data: cols.cand_item, dims: [n] },
    cand_topic: { type: 'int32', data: cols.cand_topic, dims: [n] },
    cand_creator: { type: 'int32', data: cols.cand_creator, dims: [n] },
    cand_locale: { type: 'int32', data: cols.cand_locale, dims: [n] },
    cand_age_days: { type: 'float32', data: cols.cand_age_days, dims: [n] },
    cand_popularity: { type: 'float32', data: cols.cand_popularity, dims: [n] },
    cand_source: { type: 'int32', data: cols.cand_source, dims: [n, K] },
    cand_rank: { type: 'float32', data: cols.cand_rank, dims: [n, K] },
    cand_after_last_days: { type: 'float32', data: cols.cand_after_last_days, dims: [n] },
  };
}

/** Utility weights: utility = Σ weight × head probability. */
export interface UtilityWeights {
  click: number;
  save: number;
  hide: number;
}

export const utilityOf = (w: UtilityWeights, p: { click: number; save: number; hide: number }) =>
  w.click * p.click + w.save * p.save + w.hide * p.hide;

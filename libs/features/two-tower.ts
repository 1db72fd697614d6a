// The two-tower feature encoding: how a UserContext and a catalog item become the input tensors of
// user_tower.onnx and item_tower.onnx. Training-data building, the viewer and the indexer all call
// these functions, so what the model was trained on is exactly what it is served (train/serve parity).
// Everything that parameterizes the encoding (vocabularies, input sizes, bucket edges, action
// weights) lives in the model's manifest, so a version always encodes the way it was trained.
import { ActionType, type UserContext } from '../../generated/feedloom/v1/common.js';
import type { ArtifactEntry } from '../registry/registry.js';
import { bucketIndex, type Vocab, vocabIndex } from './vocab.js';

export const TWO_TOWER_MODEL = 'two_tower';
/** Vocabulary index of padding (empty slot, absent value). */
export const PAD = 0;
/** Vocabulary index of an unknown / out-of-vocabulary value: the learned fallback for new ids. */
export const OOV = 1;
/**
 * Recent actions per UserContext the encoding assumes (the blender hydrates with max_actions 100);
 * the training replay builds its contexts with the same number.
 */
export const CONTEXT_MAX_ACTIONS = 100;
export const HOURS = 24;

export const USER_INPUTS = ['hist_items', 'hist_weights', 'follow_creators', 'topics', 'locale', 'hour'] as const;
export const ITEM_INPUTS = ['item', 'topic', 'creator', 'board', 'age_bucket', 'pop_bucket'] as const;
/**
 * The item tower's optional input: [B, boardLen] vocab.boards indices of every board the item is on
 * (newest first, 0-padded). Only versions whose manifest has inputs.boardLen > 0 take it; older ones
 * take ITEM_INPUTS alone and are fed exactly that (itemInputNames).
 */
export const ITEM_BOARDS_INPUT = 'boards';
export type ItemInputName = (typeof ITEM_INPUTS)[number] | typeof ITEM_BOARDS_INPUT;
export const USER_OUTPUT = 'user_embedding';
export const ITEM_OUTPUT = 'item_embedding';
export const USER_TOWER_FILE = 'user_tower.onnx';
export const ITEM_TOWER_FILE = 'item_tower.onnx';

/**
 * How a version's user tower summarizes the history (two_tower.py --user-tower): `pooled` = an MLP
 * over the plain mean of the history items; `sequence` = a small transformer over the newest ones,
 * trained with the dense all-action loss. Both take USER_INPUTS and give USER_OUTPUT: serving, the
 * indexer and the version sync do not tell them apart.
 */
export const USER_TOWERS = ['pooled', 'sequence'] as const;
export type UserTowerKind = (typeof USER_TOWERS)[number];

/** How engagements weigh in the user's history pooling. */
export interface HistoryWeighting {
  clickWeight: number;
  saveWeight: number;
  /** Recency half-life relative to the request time. */
  halfLifeHours: number;
}

export const DEFAULT_WEIGHTING: HistoryWeighting = { clickWeight: 1, saveWeight: 2, halfLifeHours: 72 };

export interface TwoTowerManifest {
  model: string;
  version: string;
  createdAtMs: number;
  kind: 'two_tower';
  /** Embedding dimension of both towers' outputs. */
  dim: number;
  /** Absent on versions trained before there was a choice: pooled. */
  userTower?: UserTowerKind;
  /** The events the model was trained on: [startMs, endMs). */
  dataWindow: { startMs: number; endMs: number };
  /** Held-out engagements the offline metrics were measured on: [startMs, endMs). */
  validationWindow?: { startMs: number; endMs: number };
  /** Index 0 = padding, index 1 = unknown (OOV); real values from 2. */
  vocab: { items: string[]; creators: string[]; topics: string[]; boards: string[]; locales: string[] };
  /** boardLen: slots of the item tower's `boards` input; absent or 0 on versions without it. */
  inputs: { histLen: number; followLen: number; topicLen: number; boardLen?: number };
  /** Ascending bucket edges: item age in days, and popularity (see itemFeatureRows). */
  buckets: { ageDays: number[]; popularity: number[] };
  weighting: HistoryWeighting;
  /** ONNX input and output names (the constants above), recorded for the consumers. */
  onnx: { opset: number; userInputs: string[]; itemInputs: string[]; userOutput: string; itemOutput: string };
  metrics: Record<string, number>;
  training?: Record<string, unknown>;
  /** Filled in by the registry: file → sha256 and size. */
  artifacts: Record<string, ArtifactEntry>;
  [key: string]: unknown;
}

/** A version's user tower (versions from before the choice are pooled). */
export const userTowerOf = (manifest: TwoTowerManifest): UserTowerKind => manifest.userTower ?? 'pooled';

/** The encoding-relevant part of a manifest (what the dataset builder has before training). */
export type TwoTowerEncoding = Pick<TwoTowerManifest, 'vocab' | 'inputs' | 'buckets' | 'weighting'>;

/** One catalog item as the item tower sees it. */
export interface ItemFeatureRow {
  item_id: string;
  topic: string | null;
  creator_id: string | null;
  /** The item's primary board (the first board it was saved to), or null. */
  board_id: string | null;
  /**
   * Every board the item is on as of the feature time, newest addition first (at most
   * MAX_ITEM_BOARDS); absent or empty for a log without boards.
   */
  boards?: string[] | null;
  created_ms: number | null;
  /** Time-decayed engagement as of the feature time (save 3, click 1, half-life 3 days). */
  popularity: number;
}

export interface UserBatch {
  /** [B, histLen] vocab.items indices, newest first, 0-padded. */
  hist_items: BigInt64Array;
  /** [B, histLen] action weight × recency decay; 0 on padding. */
  hist_weights: Float32Array;
  /** [B, followLen] vocab.creators indices, newest follows first. */
  follow_creators: BigInt64Array;
  /** [B, topicLen] vocab.topics indices. */
  topics: BigInt64Array;
  /** [B] vocab.locales index. */
  locale: BigInt64Array;
  /** [B] UTC hour of the request, 0..23. */
  hour: BigInt64Array;
}

export interface ItemBatch {
  item: BigInt64Array;
  topic: BigInt64Array;
  creator: BigInt64Array;
  board: BigInt64Array;
  age_bucket: BigInt64Array;
  pop_bucket: BigInt64Array;
  /** [B, boardLen] vocab.boards indices, 0-padded; only when the encoding has inputs.boardLen > 0. */
  boards?: BigInt64Array;
}

/** Per-manifest lookup maps, built once and cached (manifests are immutable once registered). */
interface Lookups {
  items: Vocab;
  creators: Vocab;
  topics: Vocab;
  boards: Vocab;
  locales: Vocab;
}
const lookupCache = new WeakMap<object, Lookups>();

function lookups(manifest: TwoTowerEncoding): Lookups {
  let cached = lookupCache.get(manifest.vocab);
  if (!cached) {
    const toMap = (list: string[]) => new Map(list.map((v, i) => [v, i] as const).filter(([, i]) => i > OOV));
    const v = manifest.vocab;
    cached = {
      items: toMap(v.items),
      creators: toMap(v.creators),
      topics: toMap(v.topics),
      boards: toMap(v.boards),
      locales: toMap(v.locales),
    };
    lookupCache.set(manifest.vocab, cached);
  }
  return cached;
}

/**
 * Encodes users for the user tower. History: the context's clicks and saves (recent_actions is
 * newest first), one slot per distinct item in order of its newest engagement, weighted by
 * Σ actionWeight · 0.5^(age / halfLife) over that item's engagements, age relative to the user's
 * request_time_ms. Hides and impressions are left out. Unknown ids encode as OOV (1), never an error.
 */
export function encodeUserBatch(users: readonly UserContext[], manifest: TwoTowerEncoding): UserBatch {
  const { histLen: L, followLen: F, topicLen: T } = manifest.inputs;
  const B = users.length;
  const maps = lookups(manifest);
  const w = manifest.weighting;
  const out: UserBatch = {
    hist_items: new BigInt64Array(B * L),
    hist_weights: new Float32Array(B * L),
    follow_creators: new BigInt64Array(B * F),
    topics: new BigInt64Array(B * T),
    locale: new BigInt64Array(B),
    hour: new BigInt64Array(B),
  };
  const slotOf = new Map<string, number>();
  for (let b = 0; b < B; b++) {
    const user = users[b];
    const now = requestTime(user);
    slotOf.clear();
    let used = 0;
    for (const action of user.recentActions) {
      const base =
        action.type === ActionType.ACTION_TYPE_SAVE
          ? w.saveWeight
          : action.type === ActionType.ACTION_TYPE_CLICK
            ? w.clickWeight
            : 0;
      if (base === 0) continue;
      const ageHours = Math.max(0, now - Number(action.timeMs)) / 3_600_000;
      const weight = base * 0.5 ** (ageHours / w.halfLifeHours);
      let slot = slotOf.get(action.itemId);
      if (slot === undefined) {
        if (used === L) continue;
        slot = used++;
        slotOf.set(action.itemId, slot);
        out.hist_items[b * L + slot] = BigInt(vocabIndex(maps.items, action.itemId));
      }
      out.hist_weights[b * L + slot] += weight;
    }
    fillIds(out.follow_creators, b * F, F, user.followedCreators, maps.creators);
    fillIds(out.topics, b * T, T, user.topics, maps.topics);
    out.locale[b] = BigInt(user.locale ? vocabIndex(maps.locales, user.locale) : OOV);
    out.hour[b] = BigInt(new Date(now).getUTCHours());
  }
  return out;
}

/**
 * Encodes catalog items for the item tower, with age and popularity as of asOfMs. A null topic,
 * creator or board encodes as padding (0, "none"); an id the vocabulary lacks as OOV (1).
 */
export function encodeItemBatch(
  items: readonly ItemFeatureRow[],
  manifest: TwoTowerEncoding,
  asOfMs: number,
): ItemBatch {
  const B = items.length;
  const maps = lookups(manifest);
  const out: ItemBatch = {
    item: new BigInt64Array(B),
    topic: new BigInt64Array(B),
    creator: new BigInt64Array(B),
    board: new BigInt64Array(B),
    age_bucket: new BigInt64Array(B),
    pop_bucket: new BigInt64Array(B),
  };
  const K = boardLenOf(manifest);
  if (K > 0) out.boards = new BigInt64Array(B * K);
  for (let b = 0; b < B; b++) {
    const row = items[b];
    if (out.boards && row.boards) fillIds(out.boards, b * K, K, row.boards, maps.boards);
    out.item[b] = BigInt(vocabIndex(maps.items, row.item_id));
    out.topic[b] = BigInt(row.topic == null ? PAD : vocabIndex(maps.topics, row.topic));
    out.creator[b] = BigInt(row.creator_id == null ? PAD : vocabIndex(maps.creators, row.creator_id));
    out.board[b] = BigInt(row.board_id == null ? PAD : vocabIndex(maps.boards, row.board_id));
    const ageDays = row.created_ms == null ? NaN : Math.max(0, asOfMs - row.created_ms) / 86_400_000;
    out.age_bucket[b] = BigInt(bucketIndex(ageDays, manifest.buckets.ageDays));
    out.pop_bucket[b] = BigInt(bucketIndex(row.popularity, manifest.buckets.popularity));
  }
  return out;
}

/** The ONNX tensor shapes of a user batch of size B (the arrays above are these, row-major). */
export function userInputDims(
  manifest: TwoTowerEncoding,
  batch: number,
): Record<(typeof USER_INPUTS)[number], number[]> {
  const { histLen, followLen, topicLen } = manifest.inputs;
  return {
    hist_items: [batch, histLen],
    hist_weights: [batch, histLen],
    follow_creators: [batch, followLen],
    topics: [batch, topicLen],
    locale: [batch],
    hour: [batch],
  };
}

/** The item input shapes for a batch of B; `boards` only when the encoding has inputs.boardLen > 0. */
export function itemInputDims(batch: number, manifest?: TwoTowerEncoding): Partial<Record<ItemInputName, number[]>> {
  const dims: Partial<Record<ItemInputName, number[]>> = {
    item: [batch],
    topic: [batch],
    creator: [batch],
    board: [batch],
    age_bucket: [batch],
    pop_bucket: [batch],
  };
  const K = manifest ? boardLenOf(manifest) : 0;
  if (K > 0) dims[ITEM_BOARDS_INPUT] = [batch, K];
  return dims;
}

/** Slots of the item tower's `boards` input (0: the version does not take it). */
export const boardLenOf = (manifest: TwoTowerEncoding): number => manifest.inputs.boardLen ?? 0;

/** The item tower's ONNX inputs for a version, in order: ITEM_INPUTS, then `boards` when it takes them. */
export function itemInputNames(manifest: TwoTowerEncoding): ItemInputName[] {
  return boardLenOf(manifest) > 0 ? [...ITEM_INPUTS, ITEM_BOARDS_INPUT] : [...ITEM_INPUTS];
}

/**
 * The feeds for an item tower from an encoded batch: exactly the inputs the session takes
 * (sessionInputs, the model's own input names), each with its shape. Throws, naming it, when the
 * model takes an input the version's encoding does not produce (a manifest that disagrees with its
 * ONNX file).
 */
export function itemTowerInputs(
  encoded: ItemBatch,
  batch: number,
  manifest: TwoTowerEncoding,
  sessionInputs: readonly string[],
): Record<string, { data: BigInt64Array; dims: number[] }> {
  const dims = itemInputDims(batch, manifest);
  const out: Record<string, { data: BigInt64Array; dims: number[] }> = {};
  for (const name of sessionInputs) {
    const data = encoded[name as keyof ItemBatch];
    const shape = dims[name as ItemInputName];
    if (!data || !shape)
      throw new Error(
        `the item tower takes an input "${name}" that this version's encoding does not produce (it produces ${Object.keys(dims).join(', ')})`,
      );
    out[name] = { data, dims: shape };
  }
  return out;
}

/** Vocabulary sizes (for the trainer's embedding tables): list length; bucket counts are edges + 2. */
export function cardinalities(manifest: TwoTowerEncoding) {
  return {
    items: manifest.vocab.items.length,
    creators: manifest.vocab.creators.length,
    topics: manifest.vocab.topics.length,
    boards: manifest.vocab.boards.length,
    locales: manifest.vocab.locales.length,
    hours: HOURS,
    ageBuckets: manifest.buckets.ageDays.length + 2,
    popBuckets: manifest.buckets.popularity.length + 2,
  };
}

function requestTime(user: UserContext): number {
  const t = Number(user.requestTimeMs);
  if (t > 0) return t;
  let newest = 0;
  for (const a of user.recentActions) newest = Math.max(newest, Number(a.timeMs));
  return newest;
}

function fillIds(out: BigInt64Array, offset: number, len: number, ids: readonly string[], map: Vocab): void {
  let n = 0;
  for (const id of ids) {
    if (n === len) break;
    if (!id) continue;
    out[offset + n++] = BigInt(vocabIndex(map, id));
  }
}

// Builds the two-tower training dataset from a world's event log (DuckDB over the events view):
//   train_*   one example per first click/save of a (user, item) before trainEndMs: the user's
//             features just before the engagement (replayed history, encoded with encodeUserBatch,
//             the function the viewer serves with) and the engaged item's features at that time
//             (encodeItemBatch, the function the indexer uses), plus the item's catalog row, its
//             time and the user's index (the dense loss's positives are the user's later examples);
//   items_*   the whole catalog as of trainEndMs (itemFeatureRows, encoded), with each item's
//             training frequency for the logQ correction;
//   val_*     held-out engagements on the last day of the window: every user with new clicks or
//             saves in [trainEndMs, asOfMs), their features as of trainEndMs, the engaged catalog
//             rows (targets) and the rows of the items already in their context (excluded from retrieval).
// Tensors are .npy files; dataset.json describes them and carries the encoding (vocabularies,
// input sizes, bucket edges) that becomes part of the model's manifest.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { ENGAGEMENT_WEIGHT_SQL } from '../data/batch/job.js';
import { eventsView, openDuck, queryRows } from '../data/duck.js';
import { DAY_MS, LOCALES, readWorldManifest } from '../data/world.js';
import {
  DEFAULT_WEIGHTING,
  encodeItemBatch,
  encodeUserBatch,
  ITEM_BOARDS_INPUT,
  ITEM_INPUTS,
  itemInputNames,
  USER_INPUTS,
  type HistoryWeighting,
  type ItemInputName,
  type ItemFeatureRow,
  type TwoTowerEncoding,
  type UserBatch,
} from '../features/two-tower.js';
import { buildVocab, quantileEdges } from '../features/vocab.js';
import { itemFeatureRowsFrom, POPULARITY_HALF_LIFE_DAYS } from './item-features.js';
import { writeNpy, type NpyArray } from './npy.js';
import { eventAt, loadEngagementEvents, UserReplay } from './replay.js';

export const DATASET_FILE = 'dataset.json';
export const AGE_DAY_EDGES = [1, 2, 4, 7, 14, 30, 60, 120, 240, 480];
const POPULARITY_QUANTILES = [0.25, 0.5, 0.75, 0.9, 0.97, 0.99];
/** Popularity counts events of the last 30 days (the decay leaves 0.1% of older ones). */
const POPULARITY_LOOKBACK_MS = 30 * DAY_MS;
const CHUNK = 2048;
/**
 * Default slots of the item tower's boards input: 0, none (the tower sees the primary board only).
 * Every board of an item (8 slots: sm items are on 3–4 boards at the median, 8+ for 1 in 6) gained
 * nothing on sm's held-out day over 5 seeds (docs/RELEVANCE.md), so it is opt-in.
 */
export const DEFAULT_BOARD_LEN = 0;

export interface TwoTowerDatasetOptions {
  worldDir: string;
  /** Where the .npy files and dataset.json go (created). */
  outDir: string;
  /** End of the data window: only events before it are read. Default: the end of the world's last day. */
  asOfMs?: number;
  /** The last part of the window held out for validation (default one day); 0 = no validation set. */
  holdoutMs?: number;
  histLen?: number;
  followLen?: number;
  topicLen?: number;
  /**
   * Slots of the item tower's `boards` input (every board an item is on, newest first); default
   * DEFAULT_BOARD_LEN, 0 = no boards input (the tower sees the primary board only, as before).
   */
  boardLen?: number;
  /** Items need this many training examples to get their own id (others share the OOV id). */
  minItemCount?: number;
  /**
   * Boards need this many items to get their own id: items on them (any of the item's boards) with
   * a boards input, items they are the primary board of without one.
   */
  minBoardItems?: number;
  /** At most this many validation users (a deterministic sample). */
  maxValUsers?: number;
  weighting?: HistoryWeighting;
  log?: (line: string) => void;
}

export interface NpyEntry {
  file: string;
  dtype: string;
  shape: number[];
}

export interface DatasetManifest {
  world: string;
  asOfMs: number;
  trainEndMs: number;
  dataWindow: { startMs: number; endMs: number };
  validationWindow: { startMs: number; endMs: number } | null;
  encoding: TwoTowerEncoding;
  counts: { train: number; items: number; valUsers: number; valTargets: number; users: number };
  arrays: Record<string, NpyEntry>;
  buildMs: number;
}

export interface TwoTowerDataset {
  dir: string;
  manifest: DatasetManifest;
}

export async function buildTwoTowerDataset(options: TwoTowerDatasetOptions): Promise<TwoTowerDataset> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const world = await readWorldManifest(options.worldDir);
  const asOfMs = Math.floor(options.asOfMs ?? world.startMs + world.days * DAY_MS);
  const holdoutMs = options.holdoutMs ?? DAY_MS;
  const trainEndMs = asOfMs - holdoutMs;
  if (trainEndMs <= world.startMs)
    throw new Error(
      `the data window ends at ${new Date(trainEndMs).toISOString()}, before the world starts (${new Date(world.startMs).toISOString()}): nothing to train on`,
    );
  const inputs = {
    histLen: options.histLen ?? 50,
    followLen: options.followLen ?? 20,
    topicLen: options.topicLen ?? 8,
    boardLen: options.boardLen ?? DEFAULT_BOARD_LEN,
  };
  if (!Number.isInteger(inputs.boardLen) || inputs.boardLen < 0)
    throw new Error(`boardLen must be an integer ≥ 0 (got ${inputs.boardLen})`);
  const weighting = options.weighting ?? DEFAULT_WEIGHTING;
  await fs.mkdir(options.outDir, { recursive: true });

  const duck = await openDuck();
  try {
    const conn = duck.conn;
    await eventsView(conn, options.worldDir, { beforeMs: asOfMs });
    const catalog = await itemFeatureRowsFrom(conn, trainEndMs);
    if (catalog.length === 0)
      throw new Error(
        `the world in ${options.worldDir} has no items created before ${new Date(trainEndMs).toISOString()}`,
      );
    const rowOf = new Map(catalog.map((r, i) => [r.item_id, i]));
    const replay = await UserReplay.load(conn);
    const events = await loadEngagementEvents(conn, asOfMs);
    let split = events.length;
    for (let i = 0; i < events.length; i++)
      if (events.times[i] >= trainEndMs) {
        split = i;
        break;
      }

    // Pass 1: which events become examples (the first click/save of a user-item pair with a catalog row).
    const isExample = new Uint8Array(split);
    const engaged = new Map<string, Set<string>>();
    const itemCount = new Map<string, number>();
    const exampleDays = new Set<number>();
    let n = 0;
    for (let i = 0; i < split; i++) {
      const type = events.types[i];
      if (type !== ActionType.ACTION_TYPE_CLICK && type !== ActionType.ACTION_TYPE_SAVE) continue;
      const user = events.users[i];
      const item = events.items[i];
      let seen = engaged.get(user);
      if (!seen) engaged.set(user, (seen = new Set()));
      if (seen.has(item)) continue;
      seen.add(item);
      if (!rowOf.has(item)) continue;
      isExample[i] = 1;
      n++;
      itemCount.set(item, (itemCount.get(item) ?? 0) + 1);
      exampleDays.add(Math.floor(events.times[i] / DAY_MS) * DAY_MS);
    }
    if (n === 0)
      throw new Error(
        `no clicks or saves before ${new Date(trainEndMs).toISOString()} in ${options.worldDir}: nothing to train on`,
      );
    const ms = () => Math.round(performance.now() - started);
    log(`dataset: ${n} training examples from ${split} events, catalog ${catalog.length} items (${ms()} ms)`);

    const encoding = await buildEncoding(conn, catalog, itemCount, inputs, weighting, options);
    const dailyPopularity = await popularityByDay(conn, [...exampleDays], trainEndMs);
    log(`dataset: vocabularies and daily popularity ready (${ms()} ms)`);

    // Pass 2: replay in time order; each example is encoded from the context just before it.
    const arrays: Record<string, NpyEntry> = {};
    const write = async (name: string, data: NpyArray, shape: number[]) => {
      const file = `${name}.npy`;
      await writeNpy(path.join(options.outDir, file), data, shape);
      arrays[name] = { file, dtype: dtypeOf(data), shape };
    };
    const train = userBatchBuffers(n, inputs);
    const itemNames = itemInputNames(encoding);
    const K = inputs.boardLen;
    const trainItems = Object.fromEntries(
      itemNames.map((k) => [k, new BigInt64Array(k === ITEM_BOARDS_INPUT ? n * K : n)]),
    ) as Record<ItemInputName, BigInt64Array>;
    const trainRow = new BigInt64Array(n);
    const trainTime = new Float64Array(n);
    const trainUser = new BigInt64Array(n);
    const userIndex = new Map<string, number>();
    let pendingUsers: UserContext[] = [];
    let pendingItems: { row: ItemFeatureRow; at: number }[] = [];
    let written = 0;
    const flush = () => {
      if (pendingUsers.length === 0) return;
      copyUserBatch(train, encodeUserBatch(pendingUsers, encoding), written, pendingUsers.length, inputs);
      for (let j = 0; j < pendingItems.length; j++) {
        const { row, at } = pendingItems[j];
        const enc = encodeItemBatch([row], encoding, at);
        for (const k of ITEM_INPUTS) trainItems[k][written + j] = enc[k][0];
        if (enc.boards) trainItems[ITEM_BOARDS_INPUT].set(enc.boards, (written + j) * K);
      }
      written += pendingUsers.length;
      pendingUsers = [];
      pendingItems = [];
    };
    let e = 0;
    for (let i = 0; i < split; i++) {
      const event = eventAt(events, i);
      if (isExample[i]) {
        const row = rowOf.get(event.itemId)!;
        const day = Math.floor(event.timeMs / DAY_MS) * DAY_MS;
        trainRow[e] = BigInt(row);
        trainTime[e] = event.timeMs;
        let u = userIndex.get(event.userId);
        if (u === undefined) userIndex.set(event.userId, (u = userIndex.size));
        trainUser[e] = BigInt(u);
        e++;
        pendingUsers.push(replay.context(event.userId, event.timeMs));
        pendingItems.push({
          row: { ...catalog[row], popularity: dailyPopularity.get(`${event.itemId}|${day}`) ?? 0 },
          at: event.timeMs,
        });
        if (pendingUsers.length === CHUNK) flush();
      }
      replay.apply(event);
    }
    flush();
    log(`dataset: examples encoded (${ms()} ms)`);
    for (const k of USER_INPUTS) await write(`train_${k}`, train[k], shapeOf(k, n, inputs));
    for (const k of itemNames) await write(`train_pos_${k}`, trainItems[k], k === ITEM_BOARDS_INPUT ? [n, K] : [n]);
    await write('train_pos_row', trainRow, [n]);
    await write('train_time_ms', trainTime, [n]);
    await write('train_user', trainUser, [n]);

    // The catalog as of trainEndMs, and each item's training frequency.
    const items = encodeItemBatch(catalog, encoding, trainEndMs);
    for (const k of ITEM_INPUTS) await write(`items_${k}`, items[k], [catalog.length]);
    if (items.boards) await write(`items_${ITEM_BOARDS_INPUT}`, items.boards, [catalog.length, K]);
    const freq = new Float32Array(catalog.length);
    for (let j = 0; j < n; j++) freq[Number(trainRow[j])]++;
    await write('items_freq', freq, [catalog.length]);
    await fs.writeFile(path.join(options.outDir, 'items.json'), JSON.stringify(catalog.map((r) => r.item_id)));

    // Validation: new engagements in [trainEndMs, asOfMs), users as of trainEndMs.
    const targets = new Map<string, Set<number>>();
    for (let i = split; i < events.length; i++) {
      const type = events.types[i];
      if (type !== ActionType.ACTION_TYPE_CLICK && type !== ActionType.ACTION_TYPE_SAVE) continue;
      const row = rowOf.get(events.items[i]);
      if (row === undefined || engaged.get(events.users[i])?.has(events.items[i])) continue;
      let t = targets.get(events.users[i]);
      if (!t) targets.set(events.users[i], (t = new Set()));
      t.add(row);
    }
    const valUsers = sampleUsers([...targets.keys()], options.maxValUsers ?? 2000);
    let valTargets = 0;
    if (holdoutMs > 0 && valUsers.length > 0) {
      const contexts = valUsers.map((u) => replay.context(u, trainEndMs));
      const val = encodeUserBatch(contexts, encoding);
      for (const k of USER_INPUTS) await write(`val_${k}`, val[k], shapeOf(k, valUsers.length, inputs));
      const targetRows = valUsers.map((u) => [...targets.get(u)!].sort((a, b) => a - b));
      const excludeRows = contexts.map((c) =>
        [...new Set(c.recentActions.map((a) => rowOf.get(a.itemId)).filter((r): r is number => r !== undefined))].sort(
          (a, b) => a - b,
        ),
      );
      valTargets = targetRows.reduce((s, t) => s + t.length, 0);
      for (const [name, lists] of [
        ['val_target', targetRows],
        ['val_exclude', excludeRows],
      ] as const) {
        const { offsets, values } = csr(lists);
        await write(`${name}_offsets`, offsets, [offsets.length]);
        await write(`${name}_rows`, values, [values.length]);
      }
      await fs.writeFile(path.join(options.outDir, 'val_users.json'), JSON.stringify(valUsers));
    }

    const firstEvent = events.length ? events.times[0] : world.startMs;
    const manifest: DatasetManifest = {
      world: world.name,
      asOfMs,
      trainEndMs,
      dataWindow: { startMs: Math.min(world.startMs, firstEvent), endMs: trainEndMs },
      validationWindow: holdoutMs > 0 && valUsers.length > 0 ? { startMs: trainEndMs, endMs: asOfMs } : null,
      encoding,
      counts: {
        train: n,
        items: catalog.length,
        valUsers: holdoutMs > 0 ? valUsers.length : 0,
        valTargets,
        users: engaged.size,
      },
      arrays,
      buildMs: Math.round(performance.now() - started),
    };
    await fs.writeFile(path.join(options.outDir, DATASET_FILE), JSON.stringify(manifest, null, 2) + '\n');
    log(
      `dataset: written to ${options.outDir} in ${manifest.buildMs} ms (${manifest.counts.valUsers} validation users, ${valTargets} targets)`,
    );
    return { dir: options.outDir, manifest };
  } finally {
    duck.close();
  }
}

async function buildEncoding(
  conn: Parameters<typeof queryRows>[0],
  catalog: ItemFeatureRow[],
  itemCount: Map<string, number>,
  inputs: TwoTowerEncoding['inputs'],
  weighting: HistoryWeighting,
  options: TwoTowerDatasetOptions,
): Promise<TwoTowerEncoding> {
  const minItemCount = options.minItemCount ?? 2;
  const minBoardItems = options.minBoardItems ?? 2;
  const items = [...itemCount]
    .filter(([, c]) => c >= minItemCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([id]) => id);
  const followed = await queryRows<{ id: string }>(
    conn,
    `SELECT DISTINCT target_id AS id FROM follows WHERE target_type = 'creator'`,
  );
  const creators = [
    ...new Set([...catalog.map((r) => r.creator_id), ...followed.map((r) => r.id)].filter((v): v is string => !!v)),
  ].sort();
  const userTopics = await queryRows<{ topic: string }>(conn, 'SELECT DISTINCT unnest(topics) AS topic FROM users');
  const topics = [
    ...new Set([...catalog.map((r) => r.topic), ...userTopics.map((r) => r.topic)].filter((v): v is string => !!v)),
  ].sort();
  const boardItems = new Map<string, number>();
  const count = (b: string) => boardItems.set(b, (boardItems.get(b) ?? 0) + 1);
  for (const r of catalog) {
    if (inputs.boardLen) new Set([...(r.boards ?? []), ...(r.board_id ? [r.board_id] : [])]).forEach(count);
    else if (r.board_id) count(r.board_id);
  }
  const boards = [...boardItems]
    .filter(([, c]) => c >= minBoardItems)
    .map(([b]) => b)
    .sort();
  const userLocales = await queryRows<{ locale: string }>(
    conn,
    'SELECT DISTINCT locale FROM users WHERE locale IS NOT NULL ORDER BY locale',
  );
  const locales = [
    ...LOCALES,
    ...userLocales.map((r) => r.locale).filter((l) => !(LOCALES as readonly string[]).includes(l)),
  ];
  const positive = catalog.map((r) => r.popularity).filter((p) => p > 0);
  return {
    vocab: {
      items: buildVocab(items),
      creators: buildVocab(creators),
      topics: buildVocab(topics),
      boards: buildVocab(boards),
      locales: buildVocab(locales),
    },
    inputs,
    // The first popularity edge splits "never engaged" from "engaged at all".
    buckets: {
      ageDays: AGE_DAY_EDGES,
      popularity: [1e-6, ...quantileEdges(positive, POPULARITY_QUANTILES).filter((e) => e > 1e-6)],
    },
    weighting,
  };
}

/** Each item's popularity (the itemFeatureRows definition) at the start of each given UTC day. */
async function popularityByDay(
  conn: Parameters<typeof queryRows>[0],
  days: number[],
  beforeMs: number,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (days.length === 0) return out;
  const rows = await queryRows<{ item_id: string; day: number; popularity: number }>(
    conn,
    `WITH days AS (SELECT unnest([${days.join(', ')}]::BIGINT[]) AS day),
     eng AS (SELECT item_id, time_ms, ${ENGAGEMENT_WEIGHT_SQL} AS w FROM events WHERE action IN ('click', 'save') AND time_ms < ${beforeMs})
     SELECT e.item_id, d.day, round(SUM(e.w * pow(0.5, (d.day - e.time_ms) / ${POPULARITY_HALF_LIFE_DAYS * DAY_MS}.0)), 9) AS popularity
     FROM eng e JOIN days d ON e.time_ms < d.day AND e.time_ms >= d.day - ${POPULARITY_LOOKBACK_MS}
     GROUP BY e.item_id, d.day`,
  );
  for (const r of rows) out.set(`${r.item_id}|${r.day}`, Number(r.popularity));
  return out;
}

function userBatchBuffers(n: number, inputs: TwoTowerEncoding['inputs']): UserBatch {
  return {
    hist_items: new BigInt64Array(n * inputs.histLen),
    hist_weights: new Float32Array(n * inputs.histLen),
    follow_creators: new BigInt64Array(n * inputs.followLen),
    topics: new BigInt64Array(n * inputs.topicLen),
    locale: new BigInt64Array(n),
    hour: new BigInt64Array(n),
  };
}

function copyUserBatch(
  into: UserBatch,
  from: UserBatch,
  offset: number,
  count: number,
  inputs: TwoTowerEncoding['inputs'],
): void {
  const width: Record<keyof UserBatch, number> = {
    hist_items: inputs.histLen,
    hist_weights: inputs.histLen,
    follow_creators: inputs.followLen,
    topics: inputs.topicLen,
    locale: 1,
    hour: 1,
  };
  for (const k of USER_INPUTS) {
    const w = width[k];
    (into[k] as BigInt64Array).set((from[k] as BigInt64Array).subarray(0, count * w), offset * w);
  }
}

function shapeOf(k: (typeof USER_INPUTS)[number], n: number, inputs: TwoTowerEncoding['inputs']): number[] {
  switch (k) {
    case 'hist_items':
    case 'hist_weights':
      return [n, inputs.histLen];
    case 'follow_creators':
      return [n, inputs.followLen];
    case 'topics':
      return [n, inputs.topicLen];
    default:
      return [n];
  }
}

function dtypeOf(data: NpyArray): string {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

function csr(lists: number[][]): { offsets: BigInt64Array; values: BigInt64Array } {
  const offsets = new BigInt64Array(lists.length + 1);
  let total = 0;
  lists.forEach((l, i) => {
    total += l.length;
    offsets[i + 1] = BigInt(total);
  });
  const values = new BigInt64Array(total);
  let k = 0;
  for (const l of lists) for (const v of l) values[k++] = BigInt(v);
  return { offsets, values };
}

/** Up to max users, a deterministic sample (by a hash of the id), in id order. */
export function sampleUsers(users: string[], max: number): string[] {
  const sorted = [...users].sort();
  if (sorted.length <= max) return sorted;
  const hash = (s: string) => {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    return h >>> 0;
  };
  return sorted
    .sort((a, b) => hash(a) - hash(b) || (a < b ? -1 : 1))
    .slice(0, max)
    .sort();
}

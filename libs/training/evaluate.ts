// Offline evaluation of any registered two-tower version on held-out engagement, through the
// serving path (encodeUserBatch / encodeItemBatch with the version's own manifest, onnxruntime).
// The retrainer uses it to compare a new version with the one serving on the same held-out day:
// the versions' vocabularies differ, so each one encodes the raw contexts itself.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { eventsView, openDuck } from '../data/duck.js';
import {
  encodeUserBatch,
  ITEM_TOWER_FILE,
  USER_OUTPUT,
  USER_TOWER_FILE,
  userInputDims,
  type ItemFeatureRow,
  type TwoTowerManifest,
} from '../features/two-tower.js';
import type { VersionInfo } from '../registry/registry.js';
import { itemFeatureRowsFrom } from './item-features.js';
import { topK } from '../top-k/top-k.js';
import { eventAt, loadEngagementEvents, UserReplay } from './replay.js';
import { sampleUsers } from './two-tower-dataset.js';
import { embedItemRows, runTower } from './verify-onnx.js';

export interface HeldOutSet {
  /** Contexts and features are as of this time. */
  cutMs: number;
  /** Engagements in [cutMs, endMs) are the targets. */
  endMs: number;
  users: string[];
  contexts: UserContext[];
  /** Per user: the catalog items first clicked or saved in the window. */
  targets: string[][];
  /** The catalog as of cutMs. */
  items: ItemFeatureRow[];
}

/**
 * The held-out set the trainer's val_recall is measured on, as raw contexts: every user with new
 * clicks/saves on catalog items in [cutMs, endMs) (up to maxUsers, the dataset's sample), their replayed
 * context at cutMs, and the catalog as of cutMs.
 */
export async function heldOutSet(worldDir: string, cutMs: number, endMs: number, maxUsers = 2000): Promise<HeldOutSet> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir, { beforeMs: endMs });
    const items = await itemFeatureRowsFrom(duck.conn, cutMs);
    const inCatalog = new Set(items.map((r) => r.item_id));
    const replay = await UserReplay.load(duck.conn);
    const events = await loadEngagementEvents(duck.conn, endMs);
    const engaged = new Map<string, Set<string>>();
    const targets = new Map<string, Set<string>>();
    for (let i = 0; i < events.length; i++) {
      const e = eventAt(events, i);
      const positive = e.type === ActionType.ACTION_TYPE_CLICK || e.type === ActionType.ACTION_TYPE_SAVE;
      if (e.timeMs < cutMs) {
        replay.apply(e);
        if (positive) (engaged.get(e.userId) ?? engaged.set(e.userId, new Set()).get(e.userId)!).add(e.itemId);
      } else if (positive && inCatalog.has(e.itemId) && !engaged.get(e.userId)?.has(e.itemId)) {
        (targets.get(e.userId) ?? targets.set(e.userId, new Set()).get(e.userId)!).add(e.itemId);
      }
    }
    const users = sampleUsers([...targets.keys()], maxUsers);
    return {
      cutMs,
      endMs,
      users,
      contexts: users.map((u) => replay.context(u, cutMs)),
      targets: users.map((u) => [...targets.get(u)!]),
      items,
    };
  } finally {
    duck.close();
  }
}

export interface RetrievalMetrics {
  /** K → mean over users of |top-K ∩ targets| / |targets|. */
  recall: Record<number, number>;
  /** Share of the catalog in some user's top 100. */
  coverage100: number;
  meanUserNorm: number;
  meanItemNorm: number;
  /** Smallest and largest single embedding norms (a NaN anywhere makes them NaN). */
  userNormRange: [number, number];
  itemNormRange: [number, number];
  /** Mean cosine between distinct items (a sample of ≤ 2,000): near 1 = collapsed. */
  itemMeanPairwiseCosine: number;
  /** The same between the held-out users' embeddings: near 1 = every user gets the same results. */
  userMeanPairwiseCosine: number;
  users: number;
  items: number;
}

/**
 * Brute-force retrieval over the set's catalog with a registered version's towers, leaving out the
 * items already in each user's context (as the blender does).
 */
export async function evaluateTwoTower(
  info: Pick<VersionInfo<TwoTowerManifest>, 'dir' | 'manifest'>,
  set: HeldOutSet,
  ks: number[] = [100, 500],
): Promise<RetrievalMetrics> {
  const m = info.manifest;
  const userSession = await ort.InferenceSession.create(path.join(info.dir, USER_TOWER_FILE));
  const itemSession = await ort.InferenceSession.create(path.join(info.dir, ITEM_TOWER_FILE));
  try {
    const dims = (shapes: Record<string, number[]>, arrays: object) =>
      Object.fromEntries(Object.entries(arrays).map(([k, data]) => [k, { data, dims: shapes[k] }]));
    const itemEmb = await embedItemRows(itemSession, m, set.items, set.cutMs);
    const D = m.dim;
    const nItems = set.items.length;
    const rowOf = new Map(set.items.map((r, i) => [r.item_id, i]));
    const kmax = Math.min(nItems, Math.max(...ks));
    const recall: Record<number, number> = Object.fromEntries(ks.map((k) => [k, 0]));
    const covered = new Set<number>();
    const allRows = Int32Array.from({ length: nItems }, (_, i) => i);
    let userNorm = 0;
    const userNorms = new Float64Array(set.users.length);
    const allUserEmb = new Float32Array(set.users.length * D);
    const BATCH = 256;
    for (let start = 0; start < set.users.length; start += BATCH) {
      const contexts = set.contexts.slice(start, start + BATCH);
      const userEmb = (
        await runTower(
          userSession,
          dims(userInputDims(m, contexts.length), encodeUserBatch(contexts, m)),
          m.onnx?.userOutput ?? USER_OUTPUT,
        )
      ).data;
      const scores = new Float32Array(nItems);
      contexts.forEach((context, b) => {
        const u = userEmb.subarray(b * D, (b + 1) * D);
        allUserEmb.set(u, (start + b) * D);
        userNorms[start + b] = Math.hypot(...u);
        userNorm += userNorms[start + b];
        for (let i = 0; i < nItems; i++) {
          let s = 0;
          for (let k = 0; k < D; k++) s += u[k] * itemEmb[i * D + k];
          scores[i] = s;
        }
        for (const a of context.recentActions) {
          const r = rowOf.get(a.itemId);
          if (r !== undefined) scores[r] = -Infinity;
        }
        const order = topK(scores, kmax, { candidates: allRows, skip: (s) => s === -Infinity });
        order.slice(0, 100).forEach((i) => covered.add(i));
        const wanted = new Set(set.targets[start + b].map((id) => rowOf.get(id)));
        for (const k of ks) recall[k] += order.slice(0, k).filter((i) => wanted.has(i)).length / wanted.size;
      });
    }
    const n = Math.max(1, set.users.length);
    for (const k of ks) recall[k] /= n;
    let itemNorm = 0;
    const itemNorms = new Float64Array(nItems);
    for (let i = 0; i < nItems; i++) itemNorm += itemNorms[i] = Math.hypot(...itemEmb.subarray(i * D, (i + 1) * D));
    return {
      recall,
      coverage100: covered.size / Math.max(1, nItems),
      meanUserNorm: userNorm / n,
      meanItemNorm: itemNorm / Math.max(1, nItems),
      userNormRange: range(userNorms),
      itemNormRange: range(itemNorms),
      itemMeanPairwiseCosine: meanPairwiseCosine(itemEmb, D, 2000),
      userMeanPairwiseCosine: meanPairwiseCosine(allUserEmb, D, 2000),
      users: set.users.length,
      items: nItems,
    };
  } finally {
    await userSession.release();
    await itemSession.release();
  }
}

/** [min, max] of the values; NaN when any is NaN (Math.min/max propagate it) or there are none. */
function range(values: Float64Array): [number, number] {
  if (values.length === 0) return [NaN, NaN];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/** Mean cosine over distinct pairs of the first `limit` rows (evenly strided over all rows). */
function meanPairwiseCosine(emb: Float32Array, dim: number, limit: number): number {
  const rows = emb.length / dim;
  const step = Math.max(1, Math.floor(rows / limit));
  const sum = new Float64Array(dim);
  let n = 0;
  let selfDots = 0;
  for (let r = 0; r < rows && n < limit; r += step, n++) {
    const v = emb.subarray(r * dim, (r + 1) * dim);
    const norm = Math.hypot(...v) || 1;
    let d = 0;
    for (let k = 0; k < dim; k++) {
      sum[k] += v[k] / norm;
      d += (v[k] / norm) ** 2;
    }
    selfDots += d;
  }
  if (n < 2) return NaN;
  let total = 0;
  for (let k = 0; k < dim; k++) total += sum[k] * sum[k];
  return (total - selfDots) / (n * (n - 1));
}

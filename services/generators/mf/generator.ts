// BPR matrix factorization: the items whose factors have the highest dot product with the user's.
// The factors are trained offline (services/trainer/mf_bpr.py via libs/training/mf.ts, run by
// `feedloom train mf`) and published as the `mf_factors` snapshot: users and items of one training
// run together, so they always match. Users the model has never seen get nothing.
import { topK } from '../../../libs/data/simulator/topk.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems } from '../../../libs/generator-sdk/seeds.js';
import { decodeFactor, MF_SNAPSHOT, type MfSnapshotRow } from '../../../libs/training/mf.js';

export interface MfData {
  version: string;
  dim: number;
  itemIds: string[];
  /** [items × dim], row-major; the last column is the item bias. */
  itemFactors: Float32Array;
  /** All item rows, the candidate list topK scans. */
  allItems: Int32Array;
  userFactors: Map<string, Float32Array>;
}

export function prepareMf(rows: MfSnapshotRow[]): MfData {
  const meta = rows.find((r) => r.kind === 'meta');
  if (!meta || meta.kind !== 'meta') throw new Error(`snapshot ${MF_SNAPSHOT} has no meta row`);
  const { dim } = meta;
  const itemIds: string[] = [];
  const itemFactors = new Float32Array(meta.items * dim);
  const userFactors = new Map<string, Float32Array>();
  for (const row of rows) {
    if (row.kind === 'meta') continue;
    const f = decodeFactor(row.f);
    if (f.length !== dim) throw new Error(`snapshot ${MF_SNAPSHOT}: ${row.kind} ${row.id} has ${f.length} factors, expected ${dim}`);
    if (row.kind === 'user') userFactors.set(row.id, f);
    else {
      if (itemIds.length === meta.items) throw new Error(`snapshot ${MF_SNAPSHOT} has more item rows than its meta row says (${meta.items})`);
      itemFactors.set(f, itemIds.length * dim);
      itemIds.push(row.id);
    }
  }
  return { version: meta.version, dim, itemIds, itemFactors, allItems: Int32Array.from(itemIds.keys()), userFactors };
}

/** Top-`quota` items by dot product with the user's factors, engaged items left out; [] for an unknown user. */
export function scoreMf(data: MfData, userId: string, exclude: ReadonlySet<string>, quota: number) {
  const u = data.userFactors.get(userId);
  if (!u) return [];
  const { dim, itemFactors, itemIds } = data;
  const scores = new Float32Array(itemIds.length);
  for (let i = 0, off = 0; i < itemIds.length; i++, off += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += u[k] * itemFactors[off + k];
    scores[i] = s;
  }
  const out = [];
  for (const i of topK(scores, data.allItems, Math.min(itemIds.length, quota + exclude.size))) {
    if (out.length >= quota) break;
    if (!exclude.has(itemIds[i])) out.push({ itemId: itemIds[i], score: scores[i], reason: 'matrix factorization (BPR)' });
  }
  return out;
}

export default defineGenerator<MfData>({
  name: 'mf',
  kind: 'learned',
  description: 'BPR matrix factorization over clicks and saves: items whose learned factors best match the user\'s.',
  requestCost: 'O(items × dim) brute-force dot products plus an O(items · log quota) top-k (10k items × 33 ≈ 0.3 ms; 1M items ≈ 30 ms)',
  snapshots: [MF_SNAPSHOT],
  prepare: (rows) => prepareMf(rows[MF_SNAPSHOT] as MfSnapshotRow[]),
  generate: ({ user, quota }, { data }) => ({
    candidates: scoreMf(data, user.userId, engagedItems(user), quota),
    modelVersion: data.version,
  }),
});

// BPR matrix factorization: the items whose factors have the highest dot product with the user's.
// The factors are trained offline (services/offline/trainer/mf_bpr.py via libs/training/mf.ts, run by
// `feedloom train mf`) and published as the `mf_factors` snapshot: users and items of one training
// run together, so they always match. Users the model has never seen get nothing.
import { createIndex, type FaissIndex } from '../../../libs/ann/faiss.js';
import { defineGenerator } from '../../../libs/generator-sdk/define.js';
import { engagedItems, type ItemExclusion } from '../../../libs/generator-sdk/seeds.js';
import { decodeFactor, mfFactors, MF_SNAPSHOT, type MfSnapshotRow } from '../../../libs/training/mf.js';

export interface MfData {
  version: string;
  dim: number;
  itemIds: string[];
  /** The item factors ([items × dim], the last column the item bias) in an exact inner-product index. */
  items: FaissIndex;
  /** Each known user's row of userFactors: one array for all users, not an ArrayBuffer each. */
  userRows: Map<string, number>;
  userFactors: Float32Array;
}

export function prepareMf(rows: MfSnapshotRow[]): MfData {
  const meta = rows.find((r) => r.kind === 'meta');
  if (!meta || meta.kind !== 'meta') throw new Error(`snapshot ${MF_SNAPSHOT} has no meta row`);
  const { dim } = meta;
  const itemIds: string[] = [];
  const itemFactors = new Float32Array(meta.items * dim);
  const userRows = new Map<string, number>();
  const userFactors = new Float32Array(rows.filter((r) => r.kind === 'user').length * dim);
  for (const row of rows) {
    if (row.kind === 'meta') continue;
    const f = decodeFactor(row.f);
    if (f.length !== dim)
      throw new Error(`snapshot ${MF_SNAPSHOT}: ${row.kind} ${row.id} has ${f.length} factors, expected ${dim}`);
    if (row.kind === 'user') {
      userFactors.set(f, userRows.size * dim);
      userRows.set(row.id, userRows.size);
    } else {
      if (itemIds.length === meta.items)
        throw new Error(`snapshot ${MF_SNAPSHOT} has more item rows than its meta row says (${meta.items})`);
      itemFactors.set(f, itemIds.length * dim);
      itemIds.push(row.id);
    }
  }
  // Exact search (Flat): the same top items as a dot product with every row, in faiss's SIMD
  // kernels on the libuv pool instead of a JS loop on the request thread.
  const items = createIndex(dim, 'Flat', 'inner_product');
  if (itemIds.length) items.add(itemFactors);
  return { version: meta.version, dim, itemIds, items, userRows, userFactors };
}

/** Top-`quota` items by dot product with the user's factors, engaged items left out; [] for an unknown user. */
export async function scoreMf(data: MfData, userId: string, exclude: ItemExclusion & { size: number }, quota: number) {
  const row = data.userRows.get(userId);
  if (row === undefined || !data.itemIds.length) return [];
  const u = data.userFactors.subarray(row * data.dim, (row + 1) * data.dim);
  const { distances, labels } = await data.items.searchAsync(u, Math.min(data.itemIds.length, quota + exclude.size));
  const out = [];
  for (let r = 0; r < labels.length && out.length < quota; r++) {
    const id = data.itemIds[labels[r]];
    if (labels[r] >= 0 && !exclude.has(id))
      out.push({ itemId: id, score: distances[r], reason: 'matrix factorization (BPR)' });
  }
  return out;
}

export default defineGenerator({
  name: 'mf',
  kind: 'learned',
  usesFaiss: true,
  description: "BPR matrix factorization over clicks and saves: items whose learned factors best match the user's.",
  requestCost:
    'O(items × dim) exact inner-product search in faiss (Flat, SIMD, off the JS thread): 50k items × 33 ≈ 0.3 ms',
  snapshots: [mfFactors],
  prepare: (rows) => prepareMf(rows.mf_factors),
  generate: async ({ user, quota }, { data }) => ({
    candidates: await scoreMf(data, user.userId, engagedItems(user), quota),
    modelVersion: data.version,
  }),
});

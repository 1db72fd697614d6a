// The ceiling of the u.data fixture (`feedloom write-udata`): recall of the user-last split's held-out
// items when they are ranked by the model the fixture drew them from (each user's taste at the end of
// their drift, items released by then, popularity and quality), the best any recommender could do
// on average. Also the same model with one piece of knowledge taken away, to show what each is worth.
// It reads the fixture's latent model, so it measures the fixture, never an imported real log.
//   node --import tsx services/offline/eval/udata-ceiling.ts [--size full|small]
import { parseArgs } from 'node:util';
import {
  generateUDataWithLatent,
  udataItemWeight,
  udataTaste,
  UDATA_FULL,
  UDATA_SMALL,
  type UDataRow,
} from '../../../libs/data/udata-fixture.js';
import { splitUserItems } from '../../../libs/eval/user-last-split.js';

/** The eval's default split on imported worlds, user-last:0.2. */
const HELD_OUT_FRACTION = 0.2;

/** What the oracle knows: the taste the user drifts to, and which items existed when they rated. */
export interface CeilingVariant {
  name: string;
  /** Where in the drift the taste is read: the held-out share's mean (≈ 0.9), or the history's (0.5). */
  drift: 'held-out' | 'history';
  /** Leave out items released after the user's last rating. */
  releaseKnown: boolean;
}

export const CEILING_VARIANTS: CeilingVariant[] = [
  { name: 'the fixture’s own model', drift: 'held-out', releaseKnown: true },
  { name: 'without release times', drift: 'held-out', releaseKnown: false },
  { name: 'taste of the whole history (no drift)', drift: 'history', releaseKnown: true },
];

/** Mean recall@k over every user with held-out items, per variant. */
export function udataCeiling(size: typeof UDATA_FULL, ks: number[], fraction = HELD_OUT_FRACTION) {
  const { rows, latent } = generateUDataWithLatent(size);
  const byUser = new Map<number, UDataRow[]>();
  for (const r of rows) (byUser.get(r.user) ?? byUser.set(r.user, []).get(r.user)!).push(r);
  const items = latent.popularity.length;
  const sums = CEILING_VARIANTS.map(() => ks.map(() => 0));
  let users = 0;
  for (const [user, own] of byUser) {
    const { train, heldOut } = splitUserItems(own, fraction);
    if (!heldOut.length) continue;
    users++;
    const rated = new Set(train.map((r) => r.item - 1));
    const held = new Set(heldOut.map((r) => r.item - 1));
    const lastS = own[own.length - 1].timeS;
    const n = own.length;
    CEILING_VARIANTS.forEach((v, vi) => {
      const drift = v.drift === 'history' ? 0.5 : (train.length + (n - 1)) / 2 / Math.max(1, n - 1);
      const taste = udataTaste(latent.users[user - 1], drift, latent.genres);
      const scored: { i: number; w: number }[] = [];
      for (let i = 0; i < items; i++) {
        if (rated.has(i) || (v.releaseKnown && latent.releasedS[i] > lastS)) continue;
        scored.push({ i, w: udataItemWeight(latent, taste, i) });
      }
      scored.sort((a, b) => b.w - a.w);
      ks.forEach((k, ki) => {
        let hits = 0;
        for (let r = 0; r < Math.min(k, scored.length); r++) if (held.has(scored[r].i)) hits++;
        sums[vi][ki] += hits / Math.min(k, held.size);
      });
    });
  }
  return {
    users,
    variants: CEILING_VARIANTS.map((v, vi) => ({ ...v, recall: sums[vi].map((s) => s / users) })),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { size: { type: 'string', default: 'full' } } });
  const size = values.size === 'small' ? UDATA_SMALL : UDATA_FULL;
  const ks = [20, 100];
  const result = udataCeiling(size, ks);
  console.log(`u.data fixture (${values.size}), user-last:${HELD_OUT_FRACTION}, ${result.users} users`);
  console.log(`| ranked by | ${ks.map((k) => `recall@${k}`).join(' | ')} |`);
  console.log(`|---|${ks.map(() => '---:').join('|')}|`);
  for (const v of result.variants)
    console.log(`| ${v.name} | ${v.recall.map((r) => `${(100 * r).toFixed(1)}%`).join(' | ')} |`);
}

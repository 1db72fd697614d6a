// EASE (Steck 2019): a dense item × item linear model with a zero diagonal, in closed form:
//   P = (XᵀX + λI)⁻¹,  B = I − P·diag(1/diag(P)),  i.e. B_ij = −P_ij / P_jj off the diagonal.
// A user's scores are their binary row times B. Dense means n² doubles and n³/2 multiply-adds, so
// the catalog is bounded. Used by the eval's baseline and by the ease_neighbors batch job (which
// serves each row's strongest weights to the ease generator).
import { topK } from '../top-k/top-k.js';
import { itemsOf, type Interactions } from './interactions.js';
import { spdInverse } from './spd-inverse.js';

/** Above this many items the dense model is refused (n² doubles: 3.2 GB at 20k). */
export const EASE_MAX_ITEMS = 20_000;

export class EaseRefused extends Error {}

/** Why EASE will not fit a catalog of n items, or undefined when it will. */
export function easeRefusal(n: number): string | undefined {
  if (n <= EASE_MAX_ITEMS) return undefined;
  return `EASE refused: the training matrix has ${n.toLocaleString('en-US')} items, above the dense limit of ${EASE_MAX_ITEMS.toLocaleString('en-US')} (it would need ${((8 * n * n) / 2 ** 30).toFixed(1)} GiB per n×n matrix)`;
}

export class Ease {
  private constructor(
    readonly items: number,
    readonly lambda: number,
    /** B, row-major n × n. */
    private readonly b: Float64Array,
  ) {}

  static fit(m: Interactions, lambda: number): Ease {
    const n = m.items.length;
    const refusal = easeRefusal(n);
    if (refusal) throw new EaseRefused(refusal);
    if (!(lambda > 0)) throw new Error(`EASE: λ must be positive (got ${lambda})`);
    // Gram matrix XᵀX + λI.
    const g = new Float64Array(n * n);
    for (let u = 0; u < m.users.length; u++) {
      const row = itemsOf(m, u);
      for (const i of row) {
        const ri = i * n;
        for (const j of row) g[ri + j] += 1;
      }
    }
    for (let i = 0; i < n; i++) g[i * n + i] += lambda;
    const p = spdInverse(g, n);
    const diag = Float64Array.from({ length: n }, (_, j) => p[j * n + j]);
    for (let i = 0; i < n; i++) {
      const ri = i * n;
      for (let j = 0; j < n; j++) p[ri + j] = i === j ? 0 : -p[ri + j] / diag[j];
    }
    return new Ease(n, lambda, p);
  }

  /**
   * Row i of B pruned to its k largest positive weights, best first (ties by index): what item i's
   * presence adds to each other item's score.
   */
  neighbors(i: number, k: number): { item: number; weight: number }[] {
    const row = this.b.subarray(i * this.items, (i + 1) * this.items);
    return topK(row, k, { skip: (w) => !(w > 0) }).map((item) => ({ item, weight: row[item] }));
  }

  /** Scores of every item for a user who interacted with the given items (matrix indices): Σ_i B[i][·]. */
  scores(userItems: ArrayLike<number>): Float64Array {
    const n = this.items;
    const scores = new Float64Array(n);
    for (let p = 0; p < userItems.length; p++) {
      const ri = userItems[p] * n;
      for (let j = 0; j < n; j++) scores[j] += this.b[ri + j];
    }
    return scores;
  }
}

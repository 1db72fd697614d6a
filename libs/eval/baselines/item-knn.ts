// Item-kNN with cosine similarity on the binary training matrix: a user's score for item j is the
// sum over their training items i of cos(i, j) = |users(i) ∩ users(j)| / √(|users(i)|·|users(j)|).
// No item × item matrix is built: the sum regroups by co-interacting user v,
//   score(j) = 1/√c_j · Σ_{v ∋ j} w_v,  w_v = Σ_{i ∈ items(u) ∩ items(v)} 1/√c_i,
// which costs at most one pass over the matrix per user, whatever the catalog size.
import { itemCount, itemsOf, usersOf, type Interactions } from '../../cf/interactions.js';

export class ItemKnn {
  private readonly invSqrtCount: Float64Array;

  constructor(private readonly m: Interactions) {
    this.invSqrtCount = Float64Array.from(m.items, (_, i) => {
      const c = itemCount(m, i);
      return c > 0 ? 1 / Math.sqrt(c) : 0;
    });
  }

  /** Scores of every item for a user who interacted with the given items (matrix indices). */
  scores(userItems: ArrayLike<number>): Float64Array {
    const { m, invSqrtCount } = this;
    const weightOfUser = new Float64Array(m.users.length);
    const touched: number[] = [];
    for (let p = 0; p < userItems.length; p++) {
      const i = userItems[p];
      for (const v of usersOf(m, i)) {
        if (weightOfUser[v] === 0) touched.push(v);
        weightOfUser[v] += invSqrtCount[i];
      }
    }
    const scores = new Float64Array(m.items.length);
    for (const v of touched) for (const j of itemsOf(m, v)) scores[j] += weightOfUser[v];
    for (let j = 0; j < scores.length; j++) scores[j] *= invSqrtCount[j];
    return scores;
  }
}

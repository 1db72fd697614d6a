// The classical baselines' lists for the test users, computed in-process on the training part:
// what a practitioner would try first, beside which the mesh has to earn its keep.
import { performance } from 'node:perf_hooks';
import { Ease, EaseRefused, easeRefusal } from '../../../libs/cf/ease.js';
import { ItemKnn } from '../../../libs/eval/baselines/item-knn.js';
import { popularityScores } from '../../../libs/eval/baselines/popularity.js';
import { pickEaseLambda, type EaseLambdaChoice } from '../../../libs/eval/baselines/tune-ease.js';
import { buildInteractions, indicesOf, type Interactions } from '../../../libs/cf/interactions.js';
import { unseenTop } from '../../../libs/eval/baselines/unseen-top.js';

export interface BaselineLists {
  name: string;
  /** Per test user, best first, the user's training items already left out; absent when refused. */
  lists?: Map<string, string[]>;
  /** Why there are no lists (EASE above its dense limit), or how it was set up (EASE's λ). */
  note: string;
  seconds: number;
  ease?: EaseLambdaChoice;
}

/** A baseline's lists and note, before it is named and timed. */
type Lists = Omit<BaselineLists, 'name' | 'seconds'>;

export async function baselineLists(
  train: ReadonlyMap<string, readonly string[]>,
  users: readonly string[],
  o: { k: number; fraction: number; log: (line: string) => void },
): Promise<BaselineLists[]> {
  const m = buildInteractions([...train].flatMap(([user, items]) => items.map((item) => [user, item] as const)));
  o.log(
    `baselines on ${m.users.length} users × ${m.items.length} items (${m.userItems.length} training interactions) …`,
  );
  const listsOf = (scores: (own: Int32Array) => Float64Array) =>
    new Map(
      users.map((u) => {
        const own = indicesOf(m, train.get(u) ?? []);
        return [u, unseenTop(scores(own), o.k, own).map((i) => m.items[i])];
      }),
    );
  const timed = async (name: string, run: () => Lists | Promise<Lists>): Promise<BaselineLists> => {
    const started = performance.now();
    const result = await run();
    const seconds = (performance.now() - started) / 1000;
    o.log(`  ${name}: ${seconds.toFixed(1)} s${result.note ? ` (${result.note})` : ''}`);
    return { name, seconds, ...result };
  };
  return [
    await timed('popularity', () => {
      const scores = popularityScores(m);
      return { lists: listsOf(() => scores), note: 'users per item in the training part' };
    }),
    await timed('item-kNN (cosine)', () => {
      const knn = new ItemKnn(m);
      return {
        lists: listsOf((own) => knn.scores(own)),
        note: 'sum of cosine similarities to the user’s items, all neighbours',
      };
    }),
    await timed('EASE', () => easeLists(m, train, listsOf, o)),
  ];
}

async function easeLists(
  m: Interactions,
  train: ReadonlyMap<string, readonly string[]>,
  listsOf: (scores: (own: Int32Array) => Float64Array) => Map<string, string[]>,
  o: { k: number; fraction: number },
): Promise<Lists> {
  const refusal = easeRefusal(m.items.length);
  if (refusal) return { note: refusal };
  try {
    // λ on the last share of each user's training items, then the model on all of them.
    const ease = await pickEaseLambda(train, o.fraction, o.k);
    const model = await Ease.fit(m, ease.lambda);
    return {
      lists: listsOf((own) => model.scores(own)),
      note: `λ = ${ease.lambda}, picked on a validation slice of ${ease.validationUsers} users`,
      ease,
    };
  } catch (err) {
    if (err instanceof EaseRefused) return { note: err.message };
    throw err;
  }
}

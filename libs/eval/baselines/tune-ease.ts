// EASE's λ, picked on a validation slice carved from the training part the same way the test part
// was carved from the whole: the last share of each user's training interactions.
import { buildInteractions, indicesOf } from '../../cf/interactions.js';
import { mean, recallCappedAtK } from '../metrics.js';
import { unseenTop } from './unseen-top.js';
import { splitUserItems } from '../user-last-split.js';
import { Ease } from '../../cf/ease.js';

export const EASE_LAMBDAS = [10, 50, 100, 250, 500, 1000];

export interface EaseLambdaChoice {
  lambda: number;
  /** Validation recall@k (capped) of every λ tried. */
  recallByLambda: Record<string, number>;
  validationUsers: number;
}

/**
 * Fits EASE on each user's training items minus their last `fraction`, for every λ, and keeps the
 * λ with the best mean recall@k on those held-back items (the smaller λ on a tie).
 * `trainByUser` lists each user's training items oldest first.
 */
export async function pickEaseLambda(
  trainByUser: ReadonlyMap<string, readonly string[]>,
  fraction: number,
  k: number,
  lambdas = EASE_LAMBDAS,
): Promise<EaseLambdaChoice> {
  const fitPairs: [string, string][] = [];
  const validation = new Map<string, { fit: readonly string[]; heldOut: Set<string> }>();
  for (const [user, items] of trainByUser) {
    const { train, heldOut } = splitUserItems(items, fraction);
    for (const item of train) fitPairs.push([user, item]);
    if (heldOut.length > 0) validation.set(user, { fit: train, heldOut: new Set(heldOut) });
  }
  const m = buildInteractions(fitPairs);
  const recallByLambda: Record<string, number> = {};
  let best = { lambda: lambdas[0], recall: -1 };
  for (const lambda of lambdas) {
    const ease = await Ease.fit(m, lambda);
    const recall = mean(
      [...validation.values()].map(({ fit, heldOut }) => {
        const own = indicesOf(m, fit);
        return recallCappedAtK(
          unseenTop(ease.scores(own), k, own).map((i) => m.items[i]),
          heldOut,
          k,
        );
      }),
    );
    recallByLambda[String(lambda)] = recall;
    if (recall > best.recall) best = { lambda, recall };
  }
  return { lambda: best.lambda, recallByLambda, validationUsers: validation.size };
}

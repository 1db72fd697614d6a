// Every list of the eval measured against the honest oracle: its expected engagements if shown
// (true@K) over the oracle's at the same K, summed over the test users. At most 1 by construction.
import { forEachUserTruth } from '../../../libs/data/simulator/index.js';
import { trueAtK } from '../../../libs/eval/true-at-k.js';

export interface TrueVsOracle {
  /** Per user, the oracle's top max-K among the items the user does not know. */
  oracleLists: Map<string, string[]>;
  /** The oracle's mean true@K per user: expected clicks plus saves of its first K if shown. */
  oracleTrueAtK: Record<string, number>;
  /** Per list name, true@K ÷ the oracle's true@K (both summed over the users), keyed `@K`. */
  ratios: Map<string, Record<string, number>>;
}

export async function trueVsOracle(o: {
  worldDir: string;
  dayIndex: number;
  users: readonly string[];
  ks: readonly number[];
  known: ReadonlyMap<string, ReadonlySet<string>>;
  lists: ReadonlyMap<string, (userId: string) => readonly string[]>;
}): Promise<TrueVsOracle> {
  const maxK = Math.max(...o.ks);
  const oracleLists = new Map<string, string[]>();
  const oracleSum = o.ks.map(() => 0);
  const sums = new Map([...o.lists.keys()].map((name) => [name, o.ks.map(() => 0)]));
  const add = (into: number[], values: number[]) => values.forEach((v, i) => (into[i] += v));
  await forEachUserTruth(o.worldDir, o.users, o.dayIndex, (user, truth) => {
    const known = o.known.get(user) ?? new Set<string>();
    const best = truth.best(maxK, known);
    oracleLists.set(user, best);
    add(oracleSum, trueAtK(best, o.ks, truth.of, known));
    for (const [name, listOf] of o.lists) add(sums.get(name)!, trueAtK(listOf(user), o.ks, truth.of, known));
  });
  const keyed = (values: number[]) => Object.fromEntries(o.ks.map((k, i) => [`@${k}`, values[i]]));
  return {
    oracleLists,
    oracleTrueAtK: keyed(oracleSum.map((s) => (o.users.length ? s / o.users.length : 0))),
    ratios: new Map(
      [...sums].map(([name, s]) => [name, keyed(s.map((x, i) => (oracleSum[i] > 0 ? x / oracleSum[i] : 0)))]),
    ),
  };
}

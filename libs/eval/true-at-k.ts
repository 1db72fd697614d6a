// Expected engagement of a list if it were shown, by the simulator's true model. Unlike recall of
// the logged engagements, which depend on what the simulated feed happened to show, this is a
// measure on which the oracle (the K items with the highest true chance) is the best possible list.

/**
 * The sum of P(engage | shown) over the list's first k items, at each k of ks. An item counts once,
 * and not at all if the user already knows it (the eval's own filter), so no list of k items sums
 * to more than the k highest P(engage | shown) among the items the user does not know.
 */
export function trueAtK(
  list: readonly string[],
  ks: readonly number[],
  pEngage: (itemId: string) => number,
  known: ReadonlySet<string>,
): number[] {
  const prefix = [0];
  const counted = new Set<string>();
  for (let i = 0; i < Math.min(Math.max(0, ...ks), list.length); i++) {
    const id = list[i];
    const fresh = !counted.has(id) && !known.has(id);
    counted.add(id);
    prefix.push(prefix[i] + (fresh ? pEngage(id) : 0));
  }
  return ks.map((k) => prefix[Math.min(k, prefix.length - 1)]);
}

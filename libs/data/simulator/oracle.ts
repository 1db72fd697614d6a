// The oracle: for a user and a day, the items with the highest true P(engage | shown) among those
// that existed when the day began. No list of K items earns more expected engagement if shown.
import { forEachUserTruth } from './true-engagement.js';

export async function oracleTopK(
  worldDir: string,
  userIds: readonly string[],
  dayIndex: number,
  k: number,
): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  await forEachUserTruth(worldDir, userIds, dayIndex, (id, truth) => result.set(id, truth.best(k)));
  return result;
}

// A binary user × item matrix held both ways (CSR), for the baselines the eval computes in-process.

export interface Interactions {
  users: string[];
  items: string[];
  userIndex: Map<string, number>;
  itemIndex: Map<string, number>;
  /** Items of user u: userItems[userStart[u] .. userStart[u + 1]), ascending. */
  userStart: Int32Array;
  userItems: Int32Array;
  /** Users of item i: itemUsers[itemStart[i] .. itemStart[i + 1]), ascending. */
  itemStart: Int32Array;
  itemUsers: Int32Array;
}

/** The matrix of the given (user, item) pairs; repeats count once. Users and items are those the pairs name. */
export function buildInteractions(pairs: Iterable<readonly [string, string]>): Interactions {
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const byUser: Set<number>[] = [];
  for (const [user, item] of pairs) {
    let u = userIndex.get(user);
    if (u === undefined) {
      u = userIndex.size;
      userIndex.set(user, u);
      byUser.push(new Set());
    }
    let i = itemIndex.get(item);
    if (i === undefined) itemIndex.set(item, (i = itemIndex.size));
    byUser[u].add(i);
  }
  const users = [...userIndex.keys()];
  const items = [...itemIndex.keys()];
  const userStart = new Int32Array(users.length + 1);
  byUser.forEach((set, u) => (userStart[u + 1] = userStart[u] + set.size));
  const userItems = new Int32Array(userStart[users.length]);
  const itemCount = new Int32Array(items.length);
  byUser.forEach((set, u) => {
    const sorted = Int32Array.from(set).sort();
    userItems.set(sorted, userStart[u]);
    for (const i of sorted) itemCount[i]++;
  });
  const itemStart = new Int32Array(items.length + 1);
  for (let i = 0; i < items.length; i++) itemStart[i + 1] = itemStart[i] + itemCount[i];
  const itemUsers = new Int32Array(userItems.length);
  const fill = itemStart.slice(0, items.length);
  // Users are visited in ascending order, so each item's user list comes out ascending.
  for (let u = 0; u < users.length; u++)
    for (let p = userStart[u]; p < userStart[u + 1]; p++) itemUsers[fill[userItems[p]]++] = u;
  return { users, items, userIndex, itemIndex, userStart, userItems, itemStart, itemUsers };
}

export const itemsOf = (m: Interactions, u: number): Int32Array =>
  m.userItems.subarray(m.userStart[u], m.userStart[u + 1]);
export const usersOf = (m: Interactions, i: number): Int32Array =>
  m.itemUsers.subarray(m.itemStart[i], m.itemStart[i + 1]);
export const itemCount = (m: Interactions, i: number): number => m.itemStart[i + 1] - m.itemStart[i];

/** The matrix's indices of the known ones among item ids (unknown ids are skipped). */
export function indicesOf(m: Interactions, itemIds: Iterable<string>): Int32Array {
  const out: number[] = [];
  for (const id of itemIds) {
    const i = m.itemIndex.get(id);
    if (i !== undefined) out.push(i);
  }
  return Int32Array.from(out);
}

/**
 * How items are spread over ANN shards: by a stable hash of the item id, so the indexer, the hosts
 * and the clients agree on where an item lives without a lookup table, whatever the catalog order.
 */

/**
 * The shard (0..shards-1) that holds `itemId`: FNV-1a (32-bit) of its UTF-8 bytes, mixed by
 * murmur3's finalizer (FNV's low bits alone are just the parity of the bytes), mod shards.
 * Changing this function moves items between shards: every sharded index would need a rebuild.
 */
export function shardOf(itemId: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(itemId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % shards;
}

/** Row numbers of `ids` grouped by shard, each group in the original order. */
export function partitionByShard(ids: readonly string[], shards: number): number[][] {
  const groups: number[][] = Array.from({ length: shards }, () => []);
  ids.forEach((id, row) => groups[shardOf(id, shards)].push(row));
  return groups;
}

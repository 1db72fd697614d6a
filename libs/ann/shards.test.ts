import { describe, expect, it } from 'vitest';
import { partitionByShard, shardOf } from './shards.js';

describe('shardOf', () => {
  it('is stable: the same id always lands on the same shard (pinned values: changing them moves items)', () => {
    expect(['i0', 'i1', 'i7', 'item-42', 'ü'].map((id) => shardOf(id, 4))).toEqual([3, 0, 2, 1, 2]);
    expect(shardOf('anything', 1)).toBe(0);
  });

  it('spreads sequential and look-alike ids evenly over 2, 3 and 8 shards', () => {
    for (const ids of [
      Array.from({ length: 10_000 }, (_, i) => `i${i}`),
      Array.from({ length: 10_000 }, (_, i) => `tt${i * 2}`),
    ]) {
      for (const shards of [2, 3, 8]) {
        const sizes = partitionByShard(ids, shards).map((g) => g.length);
        const even = ids.length / shards;
        for (const size of sizes) expect(Math.abs(size - even) / even).toBeLessThan(0.06);
      }
    }
  });

  it('partitions rows in their original order, every row once', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `i${i}`);
    const groups = partitionByShard(ids, 3);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(ids.map((_, i) => i));
    for (const [shard, rows] of groups.entries()) {
      expect([...rows].sort((a, b) => a - b)).toEqual(rows);
      expect(rows.every((row) => shardOf(ids[row], 3) === shard)).toBe(true);
    }
  });
});

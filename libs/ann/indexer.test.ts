import { existsSync, mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IDS_FILE, INDEX_FILE, INDEX_META_FILE, indexedShardCounts, readIndexMeta } from './index-files.js';
import { loadItemIndex } from './item-index.js';
import { shardOf } from './shards.js';
import { registerSyntheticTwoTower } from '../../test/fixtures/synthetic-two-tower.js';
import { DAY_MS, readWorldManifest } from '../data/world.js';
import type { ItemFeatureRow } from '../features/two-tower.js';
import { itemFeatureRows } from '../training/item-features.js';
import { testWorld } from '../../test/fixtures/world.js';
import { runIndexer } from './indexer.js';

describe('indexer', () => {
  let world: string;
  let rows: ItemFeatureRow[];
  let asOfMs: number;

  beforeAll(async () => {
    world = await testWorld();
    const manifest = await readWorldManifest(world);
    asOfMs = manifest.startMs + manifest.days * DAY_MS;
    rows = await itemFeatureRows(world, asOfMs);
  });

  it('embeds the whole catalog with the item tower and stores a tagged index beside the model', async () => {
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    const v1 = await registerSyntheticTwoTower({ registryDir, rows, seed: 1 });
    const logs: string[] = [];
    const result = await runIndexer({ registryDir, worldDir: world, batchSize: 100, log: (l) => logs.push(l) });
    expect(result.version).toBe(v1.version);
    expect(result.dir).toBe(v1.dir);
    for (const f of [INDEX_FILE, IDS_FILE, INDEX_META_FILE]) expect(existsSync(join(v1.dir, f))).toBe(true);
    const meta = (await readIndexMeta(v1.dir))!;
    expect(meta).toMatchObject({
      model: 'two_tower',
      version: v1.version,
      factory: 'Flat',
      indexType: 'Flat',
      metric: 'inner_product',
      dim: 16,
      items: rows.length,
      asOfMs,
    });
    expect(meta.timings.totalMs).toBeGreaterThan(0);
    expect(meta.timings.embedMs).toBeGreaterThan(0);
    const ids = (await readFile(join(v1.dir, IDS_FILE), 'utf8')).trim().split('\n');
    expect(ids).toEqual(rows.map((r) => r.item_id));
    expect(logs.join('\n')).toMatch(/embedding \d+ items/);

    // The index answers with the catalog's items; an item's own vector finds itself first.
    const index = await loadItemIndex(v1.dir);
    const [{ vector }] = index.vectorsOf([rows[5].item_id]);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    const hits = await index.search(vector, 10);
    expect(hits[0].itemId).toBe(rows[5].item_id);
    index.dispose();
  });

  it('with n shards, builds one index per shard beside the unsharded one, items split by the hash of their id', async () => {
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    const v1 = await registerSyntheticTwoTower({ registryDir, rows, seed: 1 });
    await runIndexer({ registryDir, worldDir: world, rows, asOfMs });
    const result = await runIndexer({ registryDir, worldDir: world, rows, asOfMs, shards: 3 });
    expect(result.shards.map((m) => [m.shard, m.shards, m.catalogItems])).toEqual([
      [0, 3, rows.length],
      [1, 3, rows.length],
      [2, 3, rows.length],
    ]);
    expect(await indexedShardCounts(v1.dir)).toEqual([1, 3]);
    const seen: string[] = [];
    for (const shard of [0, 1, 2]) {
      const index = await loadItemIndex(v1.dir, { shard: { shard, shards: 3 } });
      expect(index.size).toBeGreaterThan(0);
      expect(index.ids.every((id) => shardOf(id, 3) === shard)).toBe(true);
      seen.push(...index.ids);
      index.dispose();
    }
    // Every item in exactly one shard.
    expect(seen.sort()).toEqual(rows.map((r) => r.item_id).sort());
    await expect(runIndexer({ registryDir, worldDir: world, rows, asOfMs, shards: 0 })).rejects.toThrow(
      /shards must be an integer ≥ 1/,
    );
  });

  it('indexes the version it is told to, HNSW when asked, and records it', async () => {
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    const v1 = await registerSyntheticTwoTower({ registryDir, rows, seed: 1 });
    await registerSyntheticTwoTower({ registryDir, rows, seed: 2 });
    const result = await runIndexer({
      registryDir,
      worldDir: world,
      version: v1.version,
      index: { type: 'hnsw' },
      asOfMs,
    });
    expect(result.version).toBe(v1.version);
    expect(result.meta.factory).toBe('HNSW32,Flat');
    expect(result.meta.efSearch).toBe(64);
  });

  it('refuses a version that is still training, and a registry without versions', async () => {
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    await expect(runIndexer({ registryDir, worldDir: world })).rejects.toThrow(/no servable version of two_tower/);
    await registerSyntheticTwoTower({ registryDir, rows, seed: 1, state: 'training' });
    await expect(runIndexer({ registryDir, worldDir: world })).rejects.toThrow(/no servable version/);
  });
});

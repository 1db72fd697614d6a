import { status, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnAdminClient, AnnSearchClient } from '../../generated/feedloom/v1/ann.js';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../generated/grpc/health/v1/health.js';
import { INDEX_FILE } from '../../libs/ann/index-files.js';
import { registerSyntheticTwoTower } from '../../test/fixtures/synthetic-two-tower.js';
import { callUnary, connect } from '../../libs/bootstrap/client.js';
import { DAY_MS, readWorldManifest } from '../../libs/data/world.js';
import type { ItemFeatureRow } from '../../libs/features/two-tower.js';
import { itemFeatureRows } from '../../libs/training/item-features.js';
import { testWorld } from '../../test/fixtures/world.js';
import { runIndexer } from '../../libs/ann/indexer.js';
import { ModelRegistry } from '../../libs/registry/registry.js';
import { startAnnHost } from './service.js';
import { testAdminToken, testServerSecurity } from '../../test/fixtures/mesh.js';

const call = { timeoutMs: 10_000 };
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: ServiceError) => `${status[e.code]}: ${e.details}`,
  );

describe('ANN host', () => {
  let world: string;
  let rows: ItemFeatureRow[];
  let registryDir: string;
  let host: Awaited<ReturnType<typeof startAnnHost>>;
  let search: AnnSearchClient;
  let admin: AnnAdminClient;
  const versions: string[] = [];

  beforeAll(async () => {
    world = await testWorld();
    const wm = await readWorldManifest(world);
    rows = await itemFeatureRows(world, wm.startMs + wm.days * DAY_MS);
    registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    for (const seed of [1, 2]) {
      const v = await registerSyntheticTwoTower({ registryDir, rows, seed });
      await runIndexer({ registryDir, worldDir: world, version: v.version });
      versions.push(v.version);
    }
    // v0003: trained, never indexed.
    versions.push((await registerSyntheticTwoTower({ registryDir, rows, seed: 3 })).version);
    host = await startAnnHost({ name: 'a', registryDir, port: 0, log: () => {}, security: testServerSecurity() });
    search = connect(AnnSearchClient, host.address);
    // AnnAdmin: its own port, the admin token.
    admin = connect(AnnAdminClient, host.adminAddress!, { token: testAdminToken() });
  });
  afterAll(async () => {
    search?.close();
    admin?.close();
    await host?.stop(100);
  });

  const vectorOf = async (version: string, itemId: string) =>
    (await callUnary(search, 'getItemVectors', { model: 'two_tower', version, itemIds: [itemId] }, call)).vectors[0]
      .vector;

  it('starts serving the newest version that has an index, and says so', async () => {
    const got = await callUnary(search, 'getVersions', {}, call);
    expect(got.host).toBe('a');
    expect(got.models).toEqual([
      {
        model: 'two_tower',
        servingVersion: 'v0002',
        loadedVersions: ['v0002'],
        items: rows.length,
        dim: 16,
        indexType: 'Flat',
        shard: 0,
        shardCount: 1,
      },
    ]);
  });

  it('answers a search in exactly the version asked, with the host and version in the answer', async () => {
    const vector = await vectorOf('v0002', rows[3].item_id);
    const res = await callUnary(
      search,
      'search',
      { model: 'two_tower', version: 'v0002', vector, k: 20, excludeItems: [], efSearch: 0, nprobe: 0 },
      call,
    );
    expect(res).toMatchObject({ model: 'two_tower', version: 'v0002', host: 'a' });
    expect(res.neighbors).toHaveLength(20);
    expect(res.neighbors[0].itemId).toBe(rows[3].item_id);
    const excluded = await callUnary(
      search,
      'search',
      { model: 'two_tower', version: 'v0002', vector, k: 20, excludeItems: [rows[3].item_id], efSearch: 0, nprobe: 0 },
      call,
    );
    expect(excluded.neighbors.map((n) => n.itemId)).not.toContain(rows[3].item_id);
    expect(excluded.neighbors).toHaveLength(20);
  });

  it('refuses a version it does not hold, naming the versions it holds', async () => {
    const vector = await vectorOf('v0002', rows[0].item_id);
    const msg = await codeOf(
      callUnary(
        search,
        'search',
        { model: 'two_tower', version: 'v0001', vector, k: 5, excludeItems: [], efSearch: 0, nprobe: 0 },
        call,
      ),
    );
    expect(msg).toMatch(
      /^FAILED_PRECONDITION: host a does not hold two_tower version "v0001"; it holds v0002 and serves v0002/,
    );
  });

  it('refuses a vector of the wrong dimension, and other bad input, as INVALID_ARGUMENT', async () => {
    const base = { model: 'two_tower', version: 'v0002', k: 5, excludeItems: [], efSearch: 0, nprobe: 0 };
    expect(await codeOf(callUnary(search, 'search', { ...base, vector: [1, 0, 0] }, call))).toBe(
      'INVALID_ARGUMENT: vector: must have 16 values for two_tower v0002 (got 3)',
    );
    expect(
      await codeOf(callUnary(search, 'search', { ...base, vector: new Array(16).fill(0.25), k: 0 }, call)),
    ).toMatch(/^INVALID_ARGUMENT: k: must be an integer from 1 to 2000/);
    expect(
      await codeOf(callUnary(search, 'search', { ...base, vector: new Array(16).fill(0.25), version: '' }, call)),
    ).toMatch(/^INVALID_ARGUMENT: version: is required/);
    expect(
      await codeOf(callUnary(search, 'search', { ...base, vector: [NaN, ...new Array(15).fill(0)] }, call)),
    ).toMatch(/^INVALID_ARGUMENT: vector\[0\]: must be a finite number/);
    expect(
      await codeOf(callUnary(search, 'search', { ...base, model: 'nope', vector: new Array(16).fill(0.25) }, call)),
    ).toMatch(/^NOT_FOUND: host a holds no index of model "nope"/);
  });

  it('answers a batch of queries in one call, each as its own Search would, in order', async () => {
    const scope = { model: 'two_tower', version: 'v0002', excludeItems: [rows[5].item_id], efSearch: 0, nprobe: 0 };
    const queries = [
      { vector: await vectorOf('v0002', rows[3].item_id), k: 7 },
      { vector: await vectorOf('v0002', rows[5].item_id), k: 12 },
      { vector: await vectorOf('v0002', rows[9].item_id), k: 3 },
    ];
    const batch = await callUnary(search, 'searchBatch', { ...scope, queries }, call);
    expect(batch).toMatchObject({ model: 'two_tower', version: 'v0002', host: 'a' });
    const one = await Promise.all(queries.map((q) => callUnary(search, 'search', { ...scope, ...q }, call)));
    expect(batch.results.map((r) => r.neighbors)).toEqual(one.map((r) => r.neighbors));
    expect(batch.results.map((r) => r.neighbors.length)).toEqual([7, 12, 3]);
    expect(batch.results[1].neighbors.map((n) => n.itemId)).not.toContain(rows[5].item_id);
  });

  it('checks a batch query by query, and its version like Search', async () => {
    const scope = { model: 'two_tower', version: 'v0002', excludeItems: [], efSearch: 0, nprobe: 0 };
    const good = { vector: new Array(16).fill(0.25), k: 5 };
    const batch = (request: { queries: (typeof good)[]; version?: string }) =>
      codeOf(callUnary(search, 'searchBatch', { ...scope, ...request }, call));
    expect(await batch({ queries: [] })).toMatch(/^INVALID_ARGUMENT: queries: /);
    expect(await batch({ queries: [good, { vector: [1, 0, 0], k: 5 }] })).toBe(
      'INVALID_ARGUMENT: queries[1].vector: must have 16 values for two_tower v0002 (got 3)',
    );
    expect(await batch({ queries: [good, { ...good, k: 0 }] })).toMatch(
      /^INVALID_ARGUMENT: queries\[1\]\.k: must be an integer from 1 to 2000/,
    );
    expect(await batch({ queries: [{ ...good, vector: [NaN, ...good.vector.slice(1)] }] })).toMatch(
      /^INVALID_ARGUMENT: queries\[0\]\.vector\[0\]: must be a finite number/,
    );
    expect(await batch({ queries: new Array(65).fill(good) })).toMatch(/^INVALID_ARGUMENT: queries: /);
    expect(await batch({ version: 'v0001', queries: [good] })).toMatch(
      /^FAILED_PRECONDITION: host a does not hold two_tower version "v0001"/,
    );
  });

  it('loads a version beside the served one, swaps, keeps the old one searchable, unloads', async () => {
    const loaded = await callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0001' }, call);
    expect(loaded).toEqual({ host: 'a', servingVersion: 'v0002', loadedVersions: ['v0001', 'v0002'] });
    // Both versions answer in their own embedding space.
    const v1 = await vectorOf('v0001', rows[7].item_id);
    const res1 = await callUnary(
      search,
      'search',
      { model: 'two_tower', version: 'v0001', vector: v1, k: 3, excludeItems: [], efSearch: 0, nprobe: 0 },
      call,
    );
    expect(res1.neighbors[0].itemId).toBe(rows[7].item_id);

    const served = await callUnary(admin, 'serveVersion', { model: 'two_tower', version: 'v0001' }, call);
    expect(served.servingVersion).toBe('v0001');
    expect((await callUnary(search, 'getVersions', {}, call)).models[0].servingVersion).toBe('v0001');

    expect(await codeOf(callUnary(admin, 'unloadVersion', { model: 'two_tower', version: 'v0001' }, call))).toMatch(
      /^FAILED_PRECONDITION: host a serves two_tower v0001; ServeVersion another version before unloading it/,
    );
    expect(await codeOf(callUnary(admin, 'serveVersion', { model: 'two_tower', version: 'v0003' }, call))).toMatch(
      /^FAILED_PRECONDITION: host a has not loaded two_tower v0003; LoadVersion it first \(loaded: v0001, v0002\)/,
    );
    // Rollback: back to v0002, then drop v0001.
    await callUnary(admin, 'serveVersion', { model: 'two_tower', version: 'v0002' }, call);
    expect(await callUnary(admin, 'unloadVersion', { model: 'two_tower', version: 'v0001' }, call)).toEqual({
      host: 'a',
      servingVersion: 'v0002',
      loadedVersions: ['v0002'],
    });
  });

  it('refuses to load a version without an index, or with a corrupt one, and keeps serving', async () => {
    const noIndex = await codeOf(callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0003' }, call));
    expect(noIndex).toMatch(
      /^FAILED_PRECONDITION: host a refuses two_tower v0003: .*there is no item index.*; still serving v0002/,
    );
    const missing = await codeOf(callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0042' }, call));
    expect(missing).toMatch(/^NOT_FOUND: cannot load two_tower v0042/);
    // The registry's place on this machine stays on this machine: no absolute path in what the caller reads.
    for (const msg of [noIndex, missing]) {
      expect(msg).not.toContain(registryDir);
      expect(msg).toMatch(/…\/(two_tower\/v0003|v0042\/manifest\.json)/);
    }
    // Corrupt v0001's index file (truncate it) and try to load it.
    const file = join(registryDir, 'two_tower', 'v0001', INDEX_FILE);
    const good = readFileSync(file);
    writeFileSync(file, good.subarray(0, good.length - 100));
    try {
      expect(await codeOf(callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0001' }, call))).toMatch(
        /^DATA_LOSS: host a refuses two_tower v0001: .*truncated or replaced.*still serving v0002/,
      );
    } finally {
      writeFileSync(file, good);
    }
    const now = await callUnary(search, 'getVersions', {}, call);
    expect(now.models[0]).toMatchObject({ servingVersion: 'v0002', loadedVersions: ['v0002'] });
  });

  it('refuses to load a version that validation rejected or that is still training, naming its state', async () => {
    const registry = new ModelRegistry(registryDir);
    const rejected = await registerSyntheticTwoTower({ registryDir, rows, seed: 4 });
    await runIndexer({ registryDir, worldDir: world, version: rejected.version });
    await registry.setState('two_tower', rejected.version, 'rejected', 'test');
    const training = await registerSyntheticTwoTower({ registryDir, rows, seed: 5, state: 'training' });
    for (const [version, state] of [
      [rejected.version, 'rejected'],
      [training.version, 'training'],
    ]) {
      expect(await codeOf(callUnary(admin, 'loadVersion', { model: 'two_tower', version }, call))).toMatch(
        new RegExp(`^FAILED_PRECONDITION: host a refuses two_tower ${version}: its registry state is "${state}"`),
      );
    }
    expect(host.ann.describe('two_tower')).toMatchObject({ servingVersion: 'v0002', loadedVersions: ['v0002'] });
  });

  it('keeps answering every search while versions are loaded, swapped and unloaded under it', async () => {
    const v2 = await vectorOf('v0002', rows[1].item_id);
    await runIndexer({ registryDir, worldDir: world, version: 'v0001' });
    let stop = false;
    let answered = 0;
    const failures: string[] = [];
    const lane = async () => {
      while (!stop) {
        const res = await callUnary(
          search,
          'search',
          { model: 'two_tower', version: 'v0002', vector: v2, k: 10, excludeItems: [], efSearch: 0, nprobe: 0 },
          call,
        ).catch((e: ServiceError) => {
          failures.push(e.details);
          return undefined;
        });
        if (res) answered++;
      }
    };
    const lanes = [lane(), lane(), lane()];
    for (let round = 0; round < 3; round++) {
      await callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0001' }, call);
      await callUnary(admin, 'serveVersion', { model: 'two_tower', version: 'v0001' }, call);
      await callUnary(admin, 'serveVersion', { model: 'two_tower', version: 'v0002' }, call);
      await callUnary(admin, 'unloadVersion', { model: 'two_tower', version: 'v0001' }, call);
    }
    stop = true;
    await Promise.all(lanes);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(0);
  });

  it('can be told which version to serve at start-up', async () => {
    const pinned = await startAnnHost({ name: 'b', registryDir, port: 0, pin: { two_tower: 'v0001' }, log: () => {} });
    try {
      expect(pinned.ann.describe('two_tower')).toMatchObject({ servingVersion: 'v0001', loadedVersions: ['v0001'] });
    } finally {
      await pinned.stop(100);
    }
  });

  /** A second host on the same registry with other limits, searched with rows[3]'s v0002 vector. */
  async function withLimitedHost(
    options: { name: string; maxEfSearch?: number; maxInFlightSearches?: number },
    use: (client: AnnSearchClient, vector: number[]) => Promise<void>,
  ): Promise<void> {
    const limited = await startAnnHost({ ...options, registryDir, port: 0, log: () => {} });
    const client = connect(AnnSearchClient, limited.address);
    try {
      await use(client, await vectorOf('v0002', rows[3].item_id));
    } finally {
      client.close();
      await limited.stop(100);
    }
  }

  // efSearch rises to k + excluded items: a caller would choose the work of each search.
  it('caps the results fetched and the effective efSearch at maxEfSearch', async () => {
    await withLimitedHost({ name: 'd', maxEfSearch: 25 }, async (client, vector) => {
      const base = { model: 'two_tower', version: 'v0002', vector, k: 20, efSearch: 0, nprobe: 0 };
      const nearest = await callUnary(search, 'search', { ...base, excludeItems: [] }, call);
      const excludeItems = nearest.neighbors.map((n) => n.itemId);
      // 20 asked beyond 20 excluded: 40 to fetch, capped at 25, so 5 are left after exclusion.
      const res = await callUnary(client, 'search', { ...base, excludeItems }, call);
      expect(res.neighbors).toHaveLength(5);
      expect(res.neighbors.map((n) => n.itemId)).not.toContain(excludeItems[0]);
      // Without the exclusions the cap takes nothing away.
      expect((await callUnary(client, 'search', { ...base, excludeItems: [] }, call)).neighbors).toHaveLength(20);
    });
  });

  it('refuses searches beyond maxInFlightSearches with RESOURCE_EXHAUSTED', async () => {
    await withLimitedHost({ name: 'e', maxInFlightSearches: 1 }, async (client, vector) => {
      const request = { model: 'two_tower', version: 'v0002', vector, k: 50, excludeItems: [], efSearch: 0, nprobe: 0 };
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => codeOf(callUnary(client, 'search', request, call))),
      );
      const refused = answers.filter((a) => a.startsWith('RESOURCE_EXHAUSTED'));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]).toMatch(
        /host e has 1 searches in flight, the most it runs at once \(ann\.maxInFlightSearches\)/,
      );
      expect(answers.filter((a) => a === 'OK').length + refused.length).toBe(50);
    });
  });

  it('is NOT_SERVING on the health service while it serves no model', async () => {
    const empty = await startAnnHost({
      name: 'c',
      registryDir: mkdtempSync(join(tmpdir(), 'feedloom-registry-')),
      port: 0,
      log: () => {},
    });
    try {
      expect(empty.health.get('feedloom.v1.AnnSearch')).toBe(ServingStatus.NOT_SERVING);
      expect(host.health.get('feedloom.v1.AnnSearch')).toBe(ServingStatus.SERVING);
    } finally {
      await empty.stop(100);
    }
  });
});

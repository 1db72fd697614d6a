// ANN shards with real parts: two synthetic two-tower versions (real ONNX) indexed by the real
// indexer into 1 and 2 shards (real faiss, exact Flat), a real viewer, and real ANN hosts: two
// unsharded ones (one per version) and a 2-shard × 2-replica set. The learned generators fan out
// one search per shard; the merge must be exact, each host must hold only its shard, a replica must
// take over a dead one, and during a rollout each shard must be searched with its own version.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnAdminClient, AnnSearchClient } from '../generated/feedloom/v1/ann.js';
import type { Candidate, UserContext } from '../generated/feedloom/v1/common.js';
import { shardOf } from '../libs/ann/shards.js';
import { registerSyntheticTwoTower } from './fixtures/synthetic-two-tower.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { DAY_MS, readWorldManifest } from '../libs/data/world.js';
import type { ItemFeatureRow } from '../libs/features/two-tower.js';
import { startGeneratorForTest } from '../libs/generator-sdk/testing.js';
import { itemFeatureRows } from '../libs/training/item-features.js';
import { startAnnHost } from '../services/ann/service.js';
import embeddingI2i from '../services/generators/embedding_i2i/generator.js';
import multiInterest from '../services/generators/multi_interest/generator.js';
import twoTower from '../services/generators/two_tower/generator.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { startViewer } from '../services/viewer/service.js';
import { activeUsers, startTestEvents } from './fixtures/events.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';
import { testAdminToken, testServerSecurity } from './fixtures/mesh.js';

type Generator = Awaited<ReturnType<typeof startGeneratorForTest>>;
type Host = Awaited<ReturnType<typeof startAnnHost>>;

const quiet = () => {};
const T = { timeoutMs: 10_000 };
/** Shard of each sharded host. */
const SHARD: Record<string, number> = { s0a: 0, s0b: 0, s1a: 1, s1b: 1 };
/** "two-tower neighbour (v0001, ann.s0a)" → version and host. */
const parseReason = (reason: string) => {
  const m = /^two-tower neighbour \((.+), ann\.([\w-]+)\)$/.exec(reason);
  return { version: m?.[1] ?? '?', host: m?.[2] ?? '?' };
};
const ids = (candidates: Candidate[]) => candidates.map((c) => c.itemId);

describe('ANN shards: 2 shards × 2 replicas against one unsharded index (real faiss, real servers)', () => {
  let rows: ItemFeatureRow[];
  let registryDir: string;
  let viewer: Awaited<ReturnType<typeof startViewer>>;
  const hosts: Record<string, Host> = {};
  const stopped = new Set<string>();
  let sharded: Generator;
  let whole: Record<'v0001' | 'v0002', Generator>;
  let i2i: Generator;
  let interests: Generator;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let contexts: UserContext[];

  beforeAll(async () => {
    const world = await testWorld();
    const wm = await readWorldManifest(world);
    const asOfMs = wm.startMs + wm.days * DAY_MS;
    rows = await itemFeatureRows(world, asOfMs);
    registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    for (const seed of [1, 2]) {
      const v = await registerSyntheticTwoTower({ registryDir, rows, seed });
      for (const shards of [1, 2])
        await runIndexer({
          registryDir,
          worldDir: world,
          version: v.version,
          rows,
          asOfMs,
          shards,
          index: { type: 'flat' },
        });
    }
    viewer = await startViewer({ registryDir, keepVersions: 3, pollMs: 3_600_000, port: 0, log: quiet });
    const start = (name: string, version: string, shard = 0, shardCount = 1) =>
      startAnnHost({
        name,
        registryDir,
        port: 0,
        log: quiet,
        pin: { two_tower: version },
        shard,
        shardCount,
        security: testServerSecurity(),
      }).then((h) => (hosts[name] = h));
    await Promise.all([
      start('w1', 'v0001'),
      start('w2', 'v0002'),
      ...Object.entries(SHARD).map(([name, shard]) => start(name, 'v0001', shard, 2)),
    ]);

    const base = { viewerAddress: viewer.address, callTimeoutMs: 10_000 };
    const shardedSettings = {
      ...base,
      annHosts: Object.keys(SHARD).map((name) => ({ name, address: hosts[name].address, shard: SHARD[name] })),
    };
    const snapshots = snapshotsOf(world);
    sharded = await startGeneratorForTest(twoTower, snapshots, shardedSettings);
    whole = {
      v0001: await startGeneratorForTest(twoTower, snapshots, {
        ...base,
        annHosts: [{ name: 'w1', address: hosts.w1.address }],
      }),
      v0002: await startGeneratorForTest(twoTower, snapshots, {
        ...base,
        annHosts: [{ name: 'w2', address: hosts.w2.address }],
      }),
    };
    i2i = await startGeneratorForTest(embeddingI2i, snapshots, shardedSettings);
    interests = await startGeneratorForTest(multiInterest, snapshots, shardedSettings);
    events = await startTestEvents(world);
    contexts = await Promise.all((await activeUsers(world, 8)).map((u) => events.context(u)));
  }, 300_000);

  afterAll(async () => {
    await Promise.all([sharded, whole?.v0001, whole?.v0002, i2i, interests].map((g) => g?.stop()));
    await events?.stop();
    await Promise.all(
      Object.entries(hosts)
        .filter(([name]) => !stopped.has(name))
        .map(([, h]) => h.stop(100)),
    );
    await viewer?.stop(100);
  });

  it("each host holds only its shard's items, and says which shard it is", async () => {
    const all = rows.map((r) => r.item_id);
    for (const [name, shard] of Object.entries(SHARD)) {
      const client = connect(AnnSearchClient, hosts[name].address);
      try {
        const [served] = (await callUnary(client, 'getVersions', {}, T)).models;
        expect(served).toMatchObject({ model: 'two_tower', servingVersion: 'v0001', shard, shardCount: 2 });
        const mine = all.filter((id) => shardOf(id, 2) === shard);
        expect(served.items).toBe(mine.length);
        const held = (
          await callUnary(
            client,
            'getItemVectors',
            { model: 'two_tower', version: 'v0001', itemIds: all.slice(0, 1000) },
            T,
          )
        ).vectors.map((v) => v.itemId);
        expect(held.sort()).toEqual(mine.filter((id) => all.slice(0, 1000).includes(id)).sort());
      } finally {
        client.close();
      }
    }
    // Both shards together are the catalog, each item once.
    const counts = await Promise.all(['s0a', 's1a'].map((n) => hosts[n].ann.describe('two_tower')!.items));
    expect(counts[0] + counts[1]).toBe(rows.length);
    expect(counts.every((n) => n > 0 && n < rows.length)).toBe(true);
  });

  it('refuses to load a version that has no index for its shard count, saying how to build one', async () => {
    const lone = await startAnnHost({
      name: 'odd',
      registryDir,
      port: 0,
      log: quiet,
      shard: 2,
      shardCount: 3,
      security: testServerSecurity(),
    });
    try {
      expect(lone.ann.serving).toBe(false);
      const admin = connect(AnnAdminClient, lone.adminAddress!, { token: testAdminToken() });
      const err = await callUnary(admin, 'loadVersion', { model: 'two_tower', version: 'v0001' }, T).catch(
        (e: Error) => e,
      );
      admin.close();
      expect((err as Error).message).toMatch(
        /FAILED_PRECONDITION.*no item index for shard 2 of 3.*--shards 3.*indexed for: 1 shard, 2 shards/,
      );
    } finally {
      await lone.stop(100);
    }
  });

  it('returns the same top-k as the unsharded index (exact Flat: the merge is exact)', async () => {
    const shardsSeen = new Set<number>();
    for (const user of contexts) {
      for (const quota of [10, 60]) {
        const got = await sharded.generate(user, quota);
        const want = await whole.v0001.generate(user, quota);
        expect(got.modelVersion).toBe('v0001');
        expect(got.candidates.length).toBe(want.candidates.length);
        expect(ids(got.candidates)).toEqual(ids(want.candidates));
        got.candidates.forEach((c, i) => expect(c.score).toBeCloseTo(want.candidates[i].score, 5));
        for (const c of got.candidates) {
          const { version, host } = parseReason(c.reason);
          expect(version).toBe('v0001');
          // Every item came from a host of its own shard.
          expect(SHARD[host]).toBe(shardOf(c.itemId, 2));
          shardsSeen.add(SHARD[host]);
        }
      }
    }
    expect(shardsSeen).toEqual(new Set([0, 1]));
  });

  it('item-seeded generators read each seed from its shard and search every shard', async () => {
    for (const gen of [i2i, interests]) {
      const hostsSeen = new Set<number>();
      let answered = 0;
      for (const user of contexts) {
        const res = await gen.generate(user, 40);
        if (res.candidates.length === 0) continue;
        answered++;
        expect(res.modelVersion).toBe('v0001');
        const engaged = new Set(user.recentActions.map((a) => a.itemId));
        expect(res.candidates.filter((c) => engaged.has(c.itemId))).toEqual([]);
        for (const c of res.candidates) {
          const host = /ann\.([\w-]+)\)$/.exec(c.reason)![1];
          expect(SHARD[host]).toBe(shardOf(c.itemId, 2));
          hostsSeen.add(SHARD[host]);
        }
      }
      expect(answered).toBeGreaterThan(contexts.length / 2);
      expect(hostsSeen).toEqual(new Set([0, 1]));
    }
  });

  it('during a rollout, shard by shard, each shard is searched with its own version and no request fails', async () => {
    const answers: { modelVersion: string; candidates: Candidate[] }[] = [];
    const failures: string[] = [];
    let flowing = true;
    const flow = (async () => {
      for (let i = 0; flowing; i++) {
        await sharded.generate(contexts[i % contexts.length], 30).then(
          (res) => answers.push(res),
          (err: Error) => failures.push(err.message),
        );
      }
    })();
    const rollOut = async (name: string, version: string) => {
      const admin = connect(AnnAdminClient, hosts[name].adminAddress!, { token: testAdminToken() });
      try {
        await callUnary(admin, 'loadVersion', { model: 'two_tower', version }, T);
        await callUnary(admin, 'serveVersion', { model: 'two_tower', version }, T);
      } finally {
        admin.close();
      }
    };
    const settle = async (count = answers.length + 5) => {
      while (answers.length < count && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await settle();
      await rollOut('s0a', 'v0002');
      await settle();
      await rollOut('s0b', 'v0002');
      await settle();

      // Steady mixed state: shard 0 on v0002, shard 1 on v0001. Each shard's part of the answer is
      // exactly the top of that shard's items under its own version (the user embedded with it).
      for (const user of contexts.slice(0, 4)) {
        const got = await sharded.generate(user, 30);
        expect(got.modelVersion).toBe('shard0:v0002,shard1:v0001');
        const reference = { 0: await whole.v0002.generate(user, 200), 1: await whole.v0001.generate(user, 200) };
        for (const shard of [0, 1] as const) {
          const part = got.candidates.filter((c) => SHARD[parseReason(c.reason).host] === shard);
          expect(part.every((c) => parseReason(c.reason).version === (shard === 0 ? 'v0002' : 'v0001'))).toBe(true);
          const expected = ids(reference[shard].candidates.filter((c) => shardOf(c.itemId, 2) === shard)).slice(
            0,
            part.length,
          );
          expect(ids(part)).toEqual(expected);
        }
      }

      await rollOut('s1a', 'v0002');
      await settle();
      await rollOut('s1b', 'v0002');
      await settle();
    } finally {
      flowing = false;
      await flow;
    }
    expect(failures).toEqual([]);
    expect(answers.length).toBeGreaterThan(20);
    const versionsSeen = new Set<string>();
    for (const a of answers) {
      // One version per shard, never a user embedding of another version than the index searched.
      expect(a.modelVersion).toMatch(/^(v000[12]|shard0:v000[12],shard1:v000[12])$/);
      versionsSeen.add(a.modelVersion);
      for (const c of a.candidates) {
        const { version, host } = parseReason(c.reason);
        expect(version).toMatch(/^v000[12]$/);
        expect(SHARD[host]).toBe(shardOf(c.itemId, 2));
      }
    }
    expect(versionsSeen).toContain('v0001');
    expect(versionsSeen).toContain('shard0:v0002,shard1:v0001');
    expect(versionsSeen).toContain('v0002');
    // Rolled out everywhere: the same answers as the unsharded v0002 index.
    for (const user of contexts.slice(0, 3)) {
      const got = await sharded.generate(user, 30);
      expect(got.modelVersion).toBe('v0002');
      expect(ids(got.candidates)).toEqual(ids((await whole.v0002.generate(user, 30)).candidates));
    }
  }, 120_000);

  it('fails over to the other replica of a shard, and answers with the live shard when a whole shard is down', async () => {
    await hosts.s1a.stop(100);
    stopped.add('s1a');
    for (const user of contexts.slice(0, 4)) {
      const got = await sharded.generate(user, 30);
      expect(got.modelVersion).toBe('v0002');
      expect(ids(got.candidates)).toEqual(ids((await whole.v0002.generate(user, 30)).candidates));
      const shard1Hosts = new Set(got.candidates.map((c) => parseReason(c.reason).host).filter((h) => SHARD[h] === 1));
      expect([...shard1Hosts]).toEqual(['s1b']);
    }

    await hosts.s1b.stop(100);
    stopped.add('s1b');
    for (const user of contexts.slice(0, 4)) {
      const got = await sharded.generate(user, 30);
      expect(got.modelVersion).toBe('v0002 (partial: shard 1 of 2 unavailable: UNAVAILABLE)');
      expect(got.candidates.length).toBeGreaterThan(0);
      const reference = (await whole.v0002.generate(user, 200)).candidates.filter((c) => shardOf(c.itemId, 2) === 0);
      expect(ids(got.candidates)).toEqual(ids(reference).slice(0, got.candidates.length));
    }
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnSearchService, type SearchRequest } from '../../generated/feedloom/v1/ann.js';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { ViewerModelService, type EmbedUserRequest } from '../../generated/feedloom/v1/viewer.js';
import { failedPrecondition } from '../bootstrap/errors.js';
import { bindService, startServer, type RunningServer } from '../bootstrap/server.js';
import { parseMeshConfig } from '../config/mesh.js';
import {
  endpointsFromMesh,
  endpointsFromSettings,
  LearnedRetrieval,
  mergeShardAnswers,
  reportedVersion,
  type SyncedHost,
} from './learned-retrieval.js';
import { shardOf } from './shards.js';

/**
 * A stand-in ANN host (the real host is tested in test/ann-shards.test.ts): serves `version` for
 * shard `shard` of `shardCount`, and refuses the first `refuse` searches (as if it had just dropped
 * the version). Its item vectors are only those of its shard.
 */
async function fakeHost(name: string, version: string, refuse = 0, shard = 0, shardCount = 1) {
  const searches: SearchRequest[] = [];
  const vectorReads: string[][] = [];
  let refused = 0;
  const server = await startServer({
    name: `fake-ann-${name}`,
    port: 0,
    services: [
      bindService(AnnSearchService, {
        getVersions: () => ({
          host: name,
          models: [
            {
              model: 'two_tower',
              servingVersion: version,
              loadedVersions: [version],
              items: 3,
              dim: 2,
              indexType: 'Flat',
              shard,
              shardCount,
            },
          ],
        }),
        search: (req) => {
          searches.push(req);
          if (refused++ < refuse)
            throw failedPrecondition(`host ${name} does not hold two_tower version "${req.version}"`);
          return {
            neighbors: [{ itemId: `${name}-item`, score: 0.9 - shard / 10 }],
            model: req.model,
            version: req.version,
            host: name,
          };
        },
        searchBatch: (req) => {
          searches.push(...req.queries.map((q) => ({ ...req, vector: q.vector, k: q.k })));
          if (refused++ < refuse)
            throw failedPrecondition(`host ${name} does not hold two_tower version "${req.version}"`);
          return {
            results: req.queries.map(() => ({ neighbors: [{ itemId: `${name}-item`, score: 0.9 - shard / 10 }] })),
            model: req.model,
            version: req.version,
            host: name,
          };
        },
        getItemVectors: (req) => {
          vectorReads.push(req.itemIds);
          const mine = req.itemIds.filter((id) => shardOf(id, shardCount) === shard);
          return { vectors: mine.map((itemId) => ({ itemId, vector: [1, 0] })), version: req.version };
        },
      }),
    ],
  });
  return { server, searches, vectorReads };
}

async function fakeViewer(versions: string[]) {
  const embeds: EmbedUserRequest[] = [];
  const server = await startServer({
    name: 'fake-viewer',
    port: 0,
    services: [
      bindService(ViewerModelService, {
        embedUser: (req) => {
          embeds.push(req);
          if (!versions.includes(req.version)) throw failedPrecondition(`the viewer does not hold ${req.version}`);
          return { embedding: [0, 1], model: req.model, version: req.version };
        },
        listVersions: () => ({
          versions: versions.map((version) => ({ model: 'two_tower', version, dim: 2, loadedAtMs: 1 })),
        }),
      }),
    ],
  });
  return { server, embeds };
}

describe('LearnedRetrieval', () => {
  const servers: RunningServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(50)));
  });
  let a: Awaited<ReturnType<typeof fakeHost>>;
  let b: Awaited<ReturnType<typeof fakeHost>>;
  let viewer: Awaited<ReturnType<typeof fakeViewer>>;

  beforeAll(async () => {
    a = await fakeHost('a', 'v0001', 1);
    b = await fakeHost('b', 'v0002');
    viewer = await fakeViewer(['v0001', 'v0002', 'v0003']);
    servers.push(a.server, b.server, viewer.server);
  });

  const user = UserContext.fromPartial({ userId: 'u1' });
  const retrieval = (unsynced = false) =>
    new LearnedRetrieval(
      {
        viewer: viewer.server.address,
        annHosts: [
          { name: 'a', address: a.server.address, shard: 0 },
          { name: 'b', address: b.server.address, shard: 0 },
        ],
      },
      { model: 'two_tower', unsynced },
    );

  async function twoTower(r: LearnedRetrieval) {
    return r.withSyncedHost(async (synced, call) => {
      const embedded = await r.embedUser(user, synced, call);
      const found = await r.search(synced, embedded.embedding, 5, call);
      return {
        user: embedded.version,
        index: found.version,
        host: found.host,
        modelVersion: reportedVersion(embedded.version, found.version),
        candidates: [],
      };
    });
  }

  it('embeds with the version of the host it then searches, and retries on the next host when a version vanishes', async () => {
    const r = retrieval();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await twoTower(r));
    for (const x of answers) expect(x.user).toBe(x.index);
    // Host a refused its first search (version gone); that request was answered by host b instead.
    expect(a.searches[0].version).toBe('v0001');
    expect(answers.map((x) => `${x.host}:${x.index}`)).toContain('b:v0002');
    expect(answers.map((x) => `${x.host}:${x.index}`)).toContain('a:v0001');
    expect(viewer.embeds.every((e) => ['v0001', 'v0002'].includes(e.version))).toBe(true);
    r.close();
  });

  it("unsynced: embeds with the viewer's newest version whatever the host serves", async () => {
    const r = retrieval(true);
    const x = await twoTower(r);
    expect(x.user).toBe('v0003');
    expect(reportedVersion(x.user, x.index)).toBe(`user:v0003/index:${x.index}`);
    r.close();
  });

  it('reads item vectors of the synced version from the same host', async () => {
    const r = retrieval();
    let vectors = new Map<string, number[]>();
    await r.withSyncedHost(async (synced, call) => {
      vectors = await r.itemVectors(synced, ['i1', 'i2'], call);
      return { candidates: [] };
    });
    expect([...vectors.keys()]).toEqual(['i1', 'i2']);
    r.close();
  });

  it('says UNAVAILABLE when there are no hosts, without trying anything', async () => {
    const r = new LearnedRetrieval({ annHosts: [] }, { model: 'two_tower' });
    await expect(r.withSyncedHost(async () => ({ candidates: [] }))).rejects.toThrow(/no ANN hosts are configured/);
  });
});

describe('LearnedRetrieval over shards', () => {
  const servers: RunningServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(50)));
  });
  const user = UserContext.fromPartial({ userId: 'u1' });
  let viewer: Awaited<ReturnType<typeof fakeViewer>>;
  const hosts: Record<string, Awaited<ReturnType<typeof fakeHost>>> = {};

  beforeAll(async () => {
    viewer = await fakeViewer(['v0001', 'v0002']);
    // Shard 0 mid-rollout (s0a on v0002), shard 1 still on v0001; s1x claims to be shard 0 (misplaced).
    hosts.s0a = await fakeHost('s0a', 'v0002', 0, 0, 2);
    hosts.s1a = await fakeHost('s1a', 'v0001', 0, 1, 2);
    hosts.s1x = await fakeHost('s1x', 'v0001', 0, 0, 2);
    hosts.t0 = await fakeHost('t0', 'v0001', 0, 0, 2);
    servers.push(viewer.server, ...Object.values(hosts).map((h) => h.server));
  });

  const endpoint = (name: string, shard: number) => ({ name, address: hosts[name].server.address, shard });
  const sharded = (annHosts = [endpoint('s0a', 0), endpoint('s1a', 1)]) =>
    new LearnedRetrieval({ viewer: viewer.server.address, annHosts }, { model: 'two_tower' });

  const twoTower = (r: LearnedRetrieval, seen: SyncedHost[] = []) =>
    r.withSyncedHost(async (synced, call) => {
      seen.push(synced);
      const { embedding, version: userVersion } = await r.embedUser(user, synced, call);
      const { neighbors, version, host } = await r.search(synced, embedding, 5, call);
      const modelVersion = reportedVersion(userVersion, version);
      return {
        modelVersion,
        candidates: neighbors.map((n) => ({ itemId: n.itemId, score: n.score, reason: `${modelVersion} ann.${host}` })),
      };
    });

  it("searches every shard with an embedding of that shard's own version, embedding once per version, and merges by score", async () => {
    const r = sharded();
    const before = viewer.embeds.length;
    const answer = await twoTower(r);
    expect(answer.candidates.map((c) => [c.itemId, c.reason])).toEqual([
      ['s0a-item', 'v0002 ann.s0a'],
      ['s1a-item', 'v0001 ann.s1a'],
    ]);
    expect(answer.modelVersion).toBe('shard0:v0002,shard1:v0001');
    expect(
      viewer.embeds
        .slice(before)
        .map((e) => e.version)
        .sort(),
    ).toEqual(['v0001', 'v0002']);
    r.close();
  });

  it("reads each seed's vector from its own shard's host", async () => {
    const r = sharded([endpoint('s0a', 0), endpoint('s1a', 1)]);
    // Both hosts serve different versions: ask for vectors in a version only one of them holds.
    const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
    const got: Record<string, string[]> = {};
    await r.withSyncedHost(async (synced, call) => {
      got[synced.host.name] = [...(await r.itemVectors(synced, ids, call)).keys()].sort();
      return { candidates: [] };
    });
    // Each host only holds its own version, so each shard's work sees only its own shard's items.
    expect(got.s0a).toEqual(ids.filter((id) => shardOf(id, 2) === 0).sort());
    expect(got.s1a).toEqual(ids.filter((id) => shardOf(id, 2) === 1).sort());
    expect(hosts.s0a.vectorReads.flat().every((id) => shardOf(id, 2) === 0)).toBe(true);
    r.close();
    // In one version everywhere, every shard's work sees every seed, each read once from its shard.
    const same = sharded([endpoint('t0', 0), endpoint('s1a', 1)]);
    const reads = hosts.s1a.vectorReads.length + hosts.t0.vectorReads.length;
    await same.withSyncedHost(async (synced, call) => {
      got[synced.host.name] = [...(await same.itemVectors(synced, ids, call)).keys()].sort();
      return { candidates: [] };
    });
    expect(got.t0).toEqual([...ids].sort());
    expect(got.s1a).toEqual([...ids].sort());
    expect(hosts.s1a.vectorReads.length + hosts.t0.vectorReads.length - reads).toBe(2);
    same.close();
  });

  it('answers with the other shards when a shard has no live replica, and says so', async () => {
    const r = sharded([endpoint('s0a', 0), { name: 'dead', address: '127.0.0.1:1', shard: 1 }]);
    const answer = await twoTower(r);
    expect(answer.candidates.map((c) => c.itemId)).toEqual(['s0a-item']);
    expect(answer.modelVersion).toBe('v0002 (partial: shard 1 of 2 unavailable: UNAVAILABLE)');
    r.close();
  });

  it('refuses a host that holds another shard than the config says, and fails over to a replica', async () => {
    const r = sharded([endpoint('s0a', 0), endpoint('s1x', 1), endpoint('s1a', 1)]);
    for (let i = 0; i < 4; i++) {
      const seen: SyncedHost[] = [];
      const answer = await twoTower(r, seen);
      expect(seen.map((s) => s.host.name).sort()).toEqual(['s0a', 's1a']);
      expect(answer.modelVersion).toBe('shard0:v0002,shard1:v0001');
    }
    // With only the misplaced host for shard 1, shard 1 is missing, and the reason is named.
    const only = sharded([endpoint('s0a', 0), endpoint('s1x', 1)]);
    expect((await twoTower(only)).modelVersion).toMatch(/partial: shard 1 of 2 unavailable: FAILED_PRECONDITION/);
    await expect(only.servedVersion(endpoint('s1x', 1))).rejects.toThrow(
      /holds shard 0 of 2 .* config has it as shard 1 of 2/,
    );
    r.close();
    only.close();
  });

  it('with the shard count given (the mesh config), refuses a host whose index has another; without it, can probe one shard alone', async () => {
    const strict = new LearnedRetrieval(
      { viewer: viewer.server.address, annHosts: [endpoint('t0', 0)], shardCount: 1 },
      { model: 'two_tower' },
    );
    await expect(twoTower(strict)).rejects.toThrow(/holds shard 0 of 2 .* config has it as shard 0 of 1/);
    strict.close();
    const alone = new LearnedRetrieval(
      { viewer: viewer.server.address, annHosts: [endpoint('t0', 0)] },
      { model: 'two_tower' },
    );
    const answer = await twoTower(alone);
    expect(answer.candidates.map((c) => c.itemId)).toEqual(['t0-item']);
    expect(answer.modelVersion).toBe('v0001');
    alone.close();
    expect(
      () => new LearnedRetrieval({ annHosts: [endpoint('t0', 2)], shardCount: 2 }, { model: 'two_tower' }),
    ).toThrow(/shard 2, but the index has 2 shard/);
  });

  it('moves on to another replica when one hangs past the call timeout', async () => {
    const hung = await startServer({
      name: 'fake-ann-hung',
      port: 0,
      services: [
        bindService(AnnSearchService, {
          getVersions: () => new Promise(() => {}),
          search: () => new Promise(() => {}),
          searchBatch: () => new Promise(() => {}),
          getItemVectors: () => new Promise(() => {}),
        }),
      ],
    });
    servers.push(hung);
    const r = new LearnedRetrieval(
      {
        viewer: viewer.server.address,
        annHosts: [endpoint('s0a', 0), { name: 'hung', address: hung.address, shard: 1 }, endpoint('s1a', 1)],
      },
      { model: 'two_tower', callTimeoutMs: 300 },
    );
    for (let i = 0; i < 2; i++) expect((await twoTower(r)).modelVersion).toBe('shard0:v0002,shard1:v0001');
    r.close();
  });

  it('merges shard answers by score, and names only the versions when all shards agree', () => {
    const merged = mergeShardAnswers(
      [
        {
          shard: 1,
          answer: {
            modelVersion: 'v0003',
            candidates: [
              { itemId: 'b', score: 0.8, reason: '' },
              { itemId: 'd', score: 0.1, reason: '' },
            ],
          },
        },
        {
          shard: 0,
          answer: {
            modelVersion: 'v0003',
            candidates: [
              { itemId: 'a', score: 0.9, reason: '' },
              { itemId: 'c', score: 0.5, reason: '' },
            ],
          },
        },
      ],
      [],
      2,
    );
    expect(merged.candidates.map((c) => c.itemId)).toEqual(['a', 'b', 'c', 'd']);
    expect(merged.modelVersion).toBe('v0003');
  });
});

describe('learned endpoints', () => {
  const mesh = parseMeshConfig({
    world: { dir: '/w' },
    services: { events: { port: 1 }, blender: { port: 2 }, viewer: { port: 3 } },
    ann: {
      hosts: [
        { name: 'a', port: 4 },
        { name: 'ann-1', port: 5, address: 'dns:///ann-1.ann:5', shard: 1 },
      ],
    },
    generators: [{ name: 'popular', port: 6 }],
  });

  it('come from the mesh config: the viewer and every ANN host, with explicit addresses kept', () => {
    expect(endpointsFromMesh(mesh)).toEqual({
      viewer: '127.0.0.1:3',
      annHosts: [
        { name: 'a', address: '127.0.0.1:4', shard: 0 },
        { name: 'ann-1', address: 'dns:///ann-1.ann:5', shard: 1 },
      ],
      shardCount: 2,
    });
  });

  it('can be given in the generator settings instead', () => {
    expect(
      endpointsFromSettings({ viewerAddress: 'v:1', annHosts: ['h:1', { name: 'x', address: 'h:2', shard: 1 }] }),
    ).toEqual({
      viewer: 'v:1',
      annHosts: [
        { name: 'host0', address: 'h:1', shard: 0 },
        { name: 'x', address: 'h:2', shard: 1 },
      ],
    });
    expect(() => endpointsFromSettings({ annHosts: [{ name: 'x', address: 'h:2', shard: -1 }] })).toThrow(
      /annHosts\[0\]\.shard/,
    );
  });

  it('report one version when in sync, both when not', () => {
    expect(reportedVersion('v0002', 'v0002')).toBe('v0002');
    expect(reportedVersion(undefined, 'v0002')).toBe('v0002');
    expect(reportedVersion('v0003', 'v0002')).toBe('user:v0003/index:v0002');
  });
});

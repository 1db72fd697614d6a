import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnSearchService, type SearchRequest } from '../../generated/feedloom/v1/ann.js';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { ViewerModelService, type EmbedUserRequest } from '../../generated/feedloom/v1/viewer.js';
import { failedPrecondition } from '../bootstrap/errors.js';
import { bindService, startServer, type RunningServer } from '../bootstrap/server.js';
import { parseMeshConfig } from '../config/mesh.js';
import { endpointsFromMesh, endpointsFromSettings, LearnedRetrieval, reportedVersion } from './learned-retrieval.js';

/** A stand-in ANN host: serves `version`, and refuses the first `refuse` searches (as if it had just dropped the version). */
async function fakeHost(name: string, version: string, refuse = 0) {
  const searches: SearchRequest[] = [];
  let refused = 0;
  const server = await startServer({
    name: `fake-ann-${name}`,
    port: 0,
    services: [
      bindService(AnnSearchService, {
        getVersions: () => ({ host: name, models: [{ model: 'two_tower', servingVersion: version, loadedVersions: [version], items: 3, dim: 2, indexType: 'Flat' }] }),
        search: (req) => {
          searches.push(req);
          if (refused++ < refuse) throw failedPrecondition(`host ${name} does not hold two_tower version "${req.version}"`);
          return { neighbors: [{ itemId: `${name}-item`, score: 0.9 }], model: req.model, version: req.version, host: name };
        },
        getItemVectors: (req) => ({ vectors: req.itemIds.map((itemId) => ({ itemId, vector: [1, 0] })), version: req.version }),
      }),
    ],
  });
  return { server, searches };
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
        listVersions: () => ({ versions: versions.map((version) => ({ model: 'two_tower', version, dim: 2, loadedAtMs: 1 })) }),
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
      { viewer: viewer.server.address, annHosts: [{ name: 'a', address: a.server.address, shard: 0 }, { name: 'b', address: b.server.address, shard: 0 }] },
      { model: 'two_tower', unsynced },
    );

  async function twoTower(r: LearnedRetrieval) {
    return r.withSyncedHost(async (synced, call) => {
      const embedded = await r.embedUser(user, synced, call);
      const found = await r.search(synced, embedded.embedding, 5, call);
      return { user: embedded.version, index: found.version, host: found.host };
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

  it('unsynced: embeds with the viewer\'s newest version whatever the host serves', async () => {
    const r = retrieval(true);
    const x = await twoTower(r);
    expect(x.user).toBe('v0003');
    expect(reportedVersion(x.user, x.index)).toBe(`user:v0003/index:${x.index}`);
    r.close();
  });

  it('reads item vectors of the synced version from the same host', async () => {
    const r = retrieval();
    const vectors = await r.withSyncedHost((synced, call) => r.itemVectors(synced, ['i1', 'i2'], call));
    expect([...vectors.keys()]).toEqual(['i1', 'i2']);
    r.close();
  });

  it('says UNAVAILABLE when there are no hosts, without trying anything', async () => {
    const r = new LearnedRetrieval({ annHosts: [] }, { model: 'two_tower' });
    await expect(r.withSyncedHost(async () => 1)).rejects.toThrow(/no ANN hosts are configured/);
  });
});

describe('learned endpoints', () => {
  const mesh = parseMeshConfig({
    world: { dir: '/w' },
    services: { events: { port: 1 }, blender: { port: 2 }, viewer: { port: 3 } },
    ann: { hosts: [{ name: 'a', port: 4 }, { name: 'ann-1', port: 5, address: 'dns:///ann-1.ann:5' }] },
    generators: [{ name: 'popular', kind: 'heuristic', port: 6 }],
  });

  it('come from the mesh config: the viewer and every ANN host, with explicit addresses kept', () => {
    expect(endpointsFromMesh(mesh)).toEqual({
      viewer: '127.0.0.1:3',
      annHosts: [
        { name: 'a', address: '127.0.0.1:4', shard: 0 },
        { name: 'ann-1', address: 'dns:///ann-1.ann:5', shard: 0 },
      ],
    });
  });

  it('can be given in the generator settings instead', () => {
    expect(endpointsFromSettings({ viewerAddress: 'v:1', annHosts: ['h:1', { name: 'x', address: 'h:2' }] })).toEqual({
      viewer: 'v:1',
      annHosts: [
        { name: 'host0', address: 'h:1', shard: 0 },
        { name: 'x', address: 'h:2', shard: 0 },
      ],
    });
  });

  it('report one version when in sync, both when not', () => {
    expect(reportedVersion('v0002', 'v0002')).toBe('v0002');
    expect(reportedVersion(undefined, 'v0002')).toBe('v0002');
    expect(reportedVersion('v0003', 'v0002')).toBe('user:v0003/index:v0002');
  });
});

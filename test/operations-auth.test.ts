// Operations need a credential, the feed path does not (issue 16, item 1): real servers on free
// ports, called over the network as an outside caller would.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnAdminClient } from '../generated/feedloom/v1/ann.js';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { meshTokensOf } from '../libs/bootstrap/credentials.js';
import { operatorChannelOf, serverSecurityOf } from '../libs/bootstrap/mesh-security.js';
import { testWorld } from './fixtures/world.js';
import { smallMesh, testMeshConfig } from './fixtures/mesh.js';
import { startSyntheticLearnedBackend } from './fixtures/learned-backend.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { TWO_TOWER_MODEL } from '../libs/features/two-tower.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => status.OK,
    (err: ServiceError) => err.code,
  );

/** Token files as an operator writes them: admin, mesh and feed. */
function tokenFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'feedloom-tokens-'));
  const tokens = { admin: '', mesh: '', feed: '' };
  for (const who of ['admin', 'mesh', 'feed'] as const) {
    tokens[who] = randomBytes(24).toString('hex');
    writeFileSync(join(dir, `${who}-token`), `${tokens[who]}\n`, { mode: 0o600 });
  }
  const security = {
    adminTokenFile: join(dir, 'admin-token'),
    meshTokenFile: join(dir, 'mesh-token'),
    feedTokenFile: join(dir, 'feed-token'),
  };
  return { tokens, security };
}

describe('operations need the admin (or mesh) token; the feed path none', () => {
  const { tokens, security } = tokenFiles();
  let running: Awaited<ReturnType<typeof startAllInOne>>;
  let config: ReturnType<typeof testMeshConfig>['mesh'];
  const as = (token?: string) => ({ token, inProcess: false as const });
  const blenderAt = (address: string, token?: string) => connect(BlenderClient, address, as(token));
  const clients: { close(): void }[] = [];
  const track = <C extends { close(): void }>(c: C) => (clients.push(c), c);

  beforeAll(async () => {
    const world = await testWorld();
    config = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      raw.security = security;
    }).mesh;
    running = await startAllInOne(config, { ephemeralPorts: true });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await running?.stop();
  });

  const blender = () => running.servers.find((s) => s.name === 'blender')!;
  const events = () => running.servers.find((s) => s.name === 'events')!;
  const blend = (address: string, token: string | undefined, debug: boolean) =>
    callUnary(
      track(blenderAt(address, token)),
      'blend',
      { userId: 'u3', limit: 10, debug, requestId: '' },
      { timeoutMs: 20_000 },
    );

  it('serves a Blend without debug to a caller with no credential', async () => {
    const page = await blend(blender().address, undefined, false);
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.debug).toBeUndefined();
  });

  it('refuses a debug Blend: UNAUTHENTICATED with no or an unknown token, PERMISSION_DENIED with the feed token', async () => {
    for (const address of [blender().address, blender().adminAddress!]) {
      expect(await codeOf(blend(address, undefined, true))).toBe(status.UNAUTHENTICATED);
      expect(await codeOf(blend(address, 'x'.repeat(48), true))).toBe(status.UNAUTHENTICATED);
      expect(await codeOf(blend(address, tokens.feed, true))).toBe(status.PERMISSION_DENIED);
      // The feed token is fine on the feed path.
      expect((await blend(address, tokens.feed, false)).items.length).toBeGreaterThan(0);
    }
  });

  it('answers a debug Blend to the admin token, on the feed port and on the admin port', async () => {
    for (const address of [blender().address, blender().adminAddress!]) {
      const page = await blend(address, tokens.admin, true);
      expect(page.items.length).toBeGreaterThan(0);
      expect(page.debug?.journeys.length).toBeGreaterThan(0);
    }
  });

  it('answers GetUserContext only to the admin and mesh tokens', async () => {
    const ask = (token?: string) =>
      callUnary(
        track(connect(EventsClient, events().adminAddress!, as(token))),
        'getUserContext',
        { userId: 'u3', maxActions: 5 },
        { timeoutMs: 10_000 },
      );
    expect(await codeOf(ask())).toBe(status.UNAUTHENTICATED);
    expect(await codeOf(ask(tokens.feed))).toBe(status.PERMISSION_DENIED);
    expect((await ask(tokens.admin)).userId).toBe('u3');
    expect((await ask(tokens.mesh)).userId).toBe('u3');
    // The same on the feed port, where the blender asks with the mesh token.
    const onFeedPort = (token?: string) =>
      callUnary(
        track(connect(EventsClient, events().address, as(token))),
        'getUserContext',
        { userId: 'u3', maxActions: 5 },
        { timeoutMs: 10_000 },
      );
    expect(await codeOf(onFeedPort())).toBe(status.UNAUTHENTICATED);
    expect((await onFeedPort(tokens.mesh)).userId).toBe('u3');
  });

  it('answers 401 on the status page without the admin token, 200 with it (Bearer or Basic)', async () => {
    const url = running.addresses.get('admin')!;
    const get = (path: string, authorization?: string) =>
      fetch(new URL(path, url), { headers: authorization ? { authorization } : {} }).then((r) => r.status);
    for (const path of ['/', '/status.json', '/fragment']) {
      expect(await get(path)).toBe(401);
      expect(await get(path, `Bearer ${tokens.feed}`)).toBe(401);
    }
    const unauthorized = await fetch(new URL('/', url));
    expect(unauthorized.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await get('/status.json', `Bearer ${tokens.admin}`)).toBe(200);
    expect(await get('/', `Basic ${Buffer.from(`admin:${tokens.admin}`).toString('base64')}`)).toBe(200);
    // Probes stay open.
    expect(await get('/healthz')).toBe(200);
  });
});

describe('AnnAdmin listens on its own port and needs the admin token', () => {
  const { tokens, security } = tokenFiles();
  let backend: Awaited<ReturnType<typeof startSyntheticLearnedBackend>>;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh } = testMeshConfig(world, (raw) => (raw.security = security));
    backend = await startSyntheticLearnedBackend({
      worldDir: world,
      versions: 2,
      hosts: ['a'],
      serve: {},
      security: serverSecurityOf(mesh),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await backend?.stop();
  });

  const admin = (address: string, token?: string) => {
    const client = connect(AnnAdminClient, address, { token, inProcess: false });
    clients.push(client);
    return client;
  };
  const call = (
    address: string,
    method: 'loadVersion' | 'serveVersion' | 'unloadVersion',
    version: string,
    token?: string,
  ) => callUnary(admin(address, token), method, { model: TWO_TOWER_MODEL, version }, { timeoutMs: 60_000 });

  it('refuses every AnnAdmin RPC without a credential (UNAUTHENTICATED) and with the feed token (PERMISSION_DENIED)', async () => {
    const host = backend.hosts[0];
    for (const method of ['loadVersion', 'serveVersion', 'unloadVersion'] as const) {
      expect(await codeOf(call(host.adminAddress!, method, backend.versions[0]))).toBe(status.UNAUTHENTICATED);
      expect(await codeOf(call(host.adminAddress!, method, backend.versions[0], tokens.feed))).toBe(
        status.PERMISSION_DENIED,
      );
    }
    // Not on the search port at all.
    expect(await codeOf(call(host.address, 'loadVersion', backend.versions[0], tokens.admin))).toBe(
      status.UNIMPLEMENTED,
    );
  });

  it('loads, serves and unloads with the admin token', async () => {
    const host = backend.hosts[0];
    const [older, newer] = backend.versions;
    expect((await call(host.adminAddress!, 'serveVersion', newer, tokens.admin)).servingVersion).toBe(newer);
    const loaded = await call(host.adminAddress!, 'loadVersion', older, tokens.admin);
    expect(loaded.loadedVersions).toContain(older);
    expect((await call(host.adminAddress!, 'serveVersion', older, tokens.admin)).servingVersion).toBe(older);
    const unloaded = await call(host.adminAddress!, 'unloadVersion', newer, tokens.mesh);
    expect(unloaded.loadedVersions).not.toContain(newer);
  });
});

describe('with no token files configured (the local default)', () => {
  it('makes <world>/run/admin-token (mode 0600) on first start; operations need it, the CLI presents it', async () => {
    // A copy without run/: the shared test world may hold a token other test meshes made.
    const shared = await testWorld();
    const scratch = mkdtempSync(join(tmpdir(), 'feedloom-auth-default-'));
    const world = join(scratch, 'world');
    cpSync(shared, world, { recursive: true, filter: (src) => src !== join(shared, 'run') });
    const { mesh } = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      delete raw.security.adminTokenFile;
    });
    const running = await startAllInOne(mesh, { ephemeralPorts: true });
    const clients: { close(): void }[] = [];
    try {
      const file = join(world, 'run', 'admin-token');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const token = meshTokensOf(mesh.security, world).adminToken;
      expect(token).toMatch(/^[0-9a-f]{64}$/);
      expect(operatorChannelOf(mesh).token).toBe(token);
      const address = running.servers.find((s) => s.name === 'blender')!.address;
      const blend = (token: string | undefined, debug: boolean) => {
        const client = connect(BlenderClient, address, { token, inProcess: false });
        clients.push(client);
        return callUnary(client, 'blend', { userId: 'u3', limit: 5, debug, requestId: '' }, { timeoutMs: 20_000 });
      };
      expect((await blend(undefined, false)).items.length).toBeGreaterThan(0);
      expect(await codeOf(blend(undefined, true))).toBe(status.UNAUTHENTICATED);
      expect((await blend(token, true)).debug).toBeDefined();
    } finally {
      for (const c of clients) c.close();
      await running.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

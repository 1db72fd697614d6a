import { status, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, UserContext } from '../../generated/feedloom/v1/common.js';
import { ViewerModelClient } from '../../generated/feedloom/v1/viewer.js';
import { HealthCheckResponse_ServingStatus as ServingStatus } from '../../generated/grpc/health/v1/health.js';
import { registerSyntheticTwoTower } from '../../test/fixtures/synthetic-two-tower.js';
import { callUnary, connect } from '../../libs/bootstrap/client.js';
import { DAY_MS, readWorldManifest } from '../../libs/data/world.js';
import { USER_TOWER_FILE, type ItemFeatureRow } from '../../libs/features/two-tower.js';
import { ModelRegistry } from '../../libs/registry/registry.js';
import { itemFeatureRows } from '../../libs/training/item-features.js';
import { testWorld } from '../../test/fixtures/world.js';
import { startViewer } from './service.js';

const call = { timeoutMs: 10_000 };
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: ServiceError) => `${status[e.code]}: ${e.details}`,
  );

describe('viewer', () => {
  let rows: ItemFeatureRow[];
  let registryDir: string;
  let viewer: Awaited<ReturnType<typeof startViewer>>;
  let client: ViewerModelClient;
  const t = Date.UTC(2026, 0, 20, 15);
  const userWith = (items: string[], userId = 'u1') =>
    UserContext.fromPartial({
      userId,
      requestTimeMs: t,
      locale: 'en-US',
      recentActions: items.map((itemId, i) => ({
        itemId,
        type: ActionType.ACTION_TYPE_SAVE,
        timeMs: t - (i + 1) * 60_000,
      })),
    });

  beforeAll(async () => {
    const world = await testWorld();
    const wm = await readWorldManifest(world);
    rows = await itemFeatureRows(world, wm.startMs + wm.days * DAY_MS);
    registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    await registerSyntheticTwoTower({ registryDir, rows, seed: 1 });
    viewer = await startViewer({ registryDir, keepVersions: 2, pollMs: 3_600_000, port: 0, log: () => {} });
    client = connect(ViewerModelClient, viewer.address);
  });
  afterAll(async () => {
    client?.close();
    await viewer?.stop(100);
  });

  const embed = (version: string, user = userWith([rows[0].item_id, rows[1].item_id])) =>
    callUnary(client, 'embedUser', { user, model: 'two_tower', version }, call);

  it('embeds a user with exactly the version asked for', async () => {
    const res = await embed('v0001');
    expect(res.model).toBe('two_tower');
    expect(res.version).toBe('v0001');
    expect(res.embedding).toHaveLength(16);
    expect(Math.hypot(...res.embedding)).toBeCloseTo(1, 4);
  });

  it('answers a batch of concurrent requests exactly as it answers each alone', async () => {
    const users = rows.slice(0, 30).map((r, i) => userWith([r.item_id, rows[(i * 7) % rows.length].item_id], `u${i}`));
    const together = await Promise.all(users.map((u) => embed('v0001', u)));
    for (const i of [0, 13, 29]) {
      const alone = await embed('v0001', users[i]);
      alone.embedding.forEach((v, j) => expect(together[i].embedding[j]).toBeCloseTo(v, 5));
    }
    // Different histories, different embeddings.
    expect(together[0].embedding).not.toEqual(together[1].embedding);
  });

  it('refuses a version it does not hold, naming the versions it has', async () => {
    expect(await codeOf(embed('v0007'))).toBe(
      'FAILED_PRECONDITION: the viewer does not hold two_tower version "v0007"; it holds v0001',
    );
    expect(
      await codeOf(callUnary(client, 'embedUser', { user: userWith([]), model: 'other', version: 'v0001' }, call)),
    ).toMatch(/^NOT_FOUND: the viewer holds no version of model "other"/);
    expect(
      await codeOf(callUnary(client, 'embedUser', { user: userWith([]), model: 'two_tower', version: '' }, call)),
    ).toMatch(/^INVALID_ARGUMENT: version: is required/);
    expect(
      await codeOf(callUnary(client, 'embedUser', { user: undefined, model: 'two_tower', version: 'v0001' }, call)),
    ).toMatch(/^INVALID_ARGUMENT: user: is required/);
  });

  it('loads new registry versions, keeps the newest keepVersions, skips a corrupt one', async () => {
    await registerSyntheticTwoTower({ registryDir, rows, seed: 2 });
    // v0003 is registered, then its user tower is cut short: the checksum check refuses it.
    const v3 = await registerSyntheticTwoTower({ registryDir, rows, seed: 3 });
    writeFileSync(join(v3.dir, USER_TOWER_FILE), 'not a model');
    await registerSyntheticTwoTower({ registryDir, rows, seed: 4, state: 'training' }); // v0004: not servable yet
    await viewer.viewer.refresh();
    const listed = await callUnary(client, 'listVersions', { model: '' }, call);
    expect(listed.versions.map((v) => v.version)).toEqual(['v0001', 'v0002']);
    expect(listed.versions.every((v) => v.dim === 16 && v.loadedAtMs > 0)).toBe(true);
    expect(await codeOf(embed('v0003'))).toMatch(
      /^FAILED_PRECONDITION: .*it holds v0001, v0002 \(v0003 failed to load: .*user_tower\.onnx/,
    );

    await registerSyntheticTwoTower({ registryDir, rows, seed: 5 }); // v0005
    await viewer.viewer.refresh();
    expect(
      (await callUnary(client, 'listVersions', { model: 'two_tower' }, call)).versions.map((v) => v.version),
    ).toEqual(['v0002', 'v0005']);
    const v5 = await embed('v0005');
    const v2 = await embed('v0002');
    expect(v5.embedding).not.toEqual(v2.embedding); // independent models, independent spaces
    expect(await codeOf(embed('v0001'))).toMatch(
      /^FAILED_PRECONDITION: the viewer does not hold two_tower version "v0001"; it holds v0002, v0005/,
    );
  });

  it('keeps a version the registry marks serving, however many newer versions appear', async () => {
    const registry = new ModelRegistry(registryDir);
    for (const state of ['validated', 'published', 'serving'] as const)
      await registry.setState('two_tower', 'v0002', state, 'test');
    await registerSyntheticTwoTower({ registryDir, rows, seed: 6 }); // v0006
    await registerSyntheticTwoTower({ registryDir, rows, seed: 7 }); // v0007
    await viewer.viewer.refresh();
    expect(
      (await callUnary(client, 'listVersions', { model: 'two_tower' }, call)).versions.map((v) => v.version),
    ).toEqual(['v0002', 'v0006', 'v0007']);
  });

  it('is NOT_SERVING until it holds a version', async () => {
    const empty = await startViewer({
      registryDir: mkdtempSync(join(tmpdir(), 'feedloom-registry-')),
      keepVersions: 2,
      pollMs: 3_600_000,
      port: 0,
      log: () => {},
    });
    try {
      expect(empty.health.get('feedloom.v1.ViewerModel')).toBe(ServingStatus.NOT_SERVING);
      expect(viewer.health.get('feedloom.v1.ViewerModel')).toBe(ServingStatus.SERVING);
    } finally {
      await empty.stop(100);
    }
  });
});

// The pending queue is memory a client controls: capped, and a request whose caller is gone is
// dropped from it, never run.
describe('viewer under a flood', () => {
  let viewer: Awaited<ReturnType<typeof startViewer>>;
  let client: ViewerModelClient;
  let user: UserContext;

  beforeAll(async () => {
    const world = await testWorld();
    const wm = await readWorldManifest(world);
    const rows = await itemFeatureRows(world, wm.startMs + wm.days * DAY_MS);
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-registry-'));
    await registerSyntheticTwoTower({ registryDir, rows, seed: 1 });
    viewer = await startViewer({
      registryDir,
      keepVersions: 1,
      pollMs: 3_600_000,
      port: 0,
      workersPerVersion: 1,
      maxPendingEmbeds: 4,
      log: () => {},
    });
    client = connect(ViewerModelClient, viewer.address);
    user = UserContext.fromPartial({ userId: 'u1', requestTimeMs: Date.UTC(2026, 0, 20), locale: 'en-US' });
  });
  afterAll(async () => {
    client?.close();
    await viewer?.stop(100);
  });

  it('refuses requests beyond maxPendingEmbeds with RESOURCE_EXHAUSTED and answers the rest', async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        codeOf(callUnary(client, 'embedUser', { user, model: 'two_tower', version: 'v0001' }, call)),
      ),
    );
    const refused = answers.filter((a) => a.startsWith('RESOURCE_EXHAUSTED'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatch(/the two_tower v0001 user tower has 4 requests waiting, the most it queues/);
    expect(answers.filter((a) => a === 'OK').length + refused.length).toBe(300);
  });

  it('drops a queued request whose caller cancelled, without running it', async () => {
    const tower = viewer.viewer.tower('two_tower', 'v0001');
    const before = tower.embedded;
    const gone = new AbortController();
    gone.abort(new Error('the caller cancelled'));
    await expect(tower.embed(user, gone.signal)).rejects.toThrow(/the caller cancelled/);
    // One cancelled while it waits behind a running batch.
    const busy = Array.from({ length: 3 }, () => tower.embed(user));
    const leaving = new AbortController();
    const queued = tower.embed(user, leaving.signal);
    leaving.abort(new Error('deadline passed'));
    await expect(queued).rejects.toThrow(/deadline passed/);
    await Promise.all(busy);
    expect(tower.embedded - before).toBe(3);
  });
});

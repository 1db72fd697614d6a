// Seen means seen: a page never holds an item the user engaged with anywhere in the retained
// history, also when that history is far longer than the 100 recent actions of the context.
// An imported MovieLens-style world (1997-98), where heavy users rated 100+ items, served all-in-one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { EventsClient, EventsService } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { unavailable } from '../libs/bootstrap/errors.js';
import { bindService, startServer } from '../libs/bootstrap/server.js';
import type { MeshConfig } from '../libs/config/mesh.js';
import { runBatchJobs } from '../libs/data/batch/run.js';
import { importInteractions } from '../libs/data/importer.js';
import { UDATA_SMALL, writeUData } from '../libs/data/udata-fixture.js';
import { startBlender } from '../services/blender/service.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { worldRows } from './fixtures/events.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';

// These need trained models; every other one (ease too, learned in a batch job) serves from the batch snapshots.
const LEARNED = ['two_tower', 'embedding_i2i', 'multi_interest', 'mf'];
const HEAVY_USERS = 5;
const LIMIT = 100;

describe('a Blend over a long history', () => {
  const dir = mkdtempSync(join(tmpdir(), 'never-history-'));
  const worldDir = join(dir, 'world');
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let config: MeshConfig;
  let history: Map<string, Set<string>>;
  const closers: (() => unknown)[] = [];

  const blend = async (address: string, userId: string): Promise<BlendResponse> => {
    const client = connect(BlenderClient, address);
    try {
      return await callUnary(
        client,
        'blend',
        { userId, limit: LIMIT, debug: false, requestId: '' },
        { timeoutMs: 20_000 },
      );
    } finally {
      client.close();
    }
  };
  /** Share of all page items that are in their user's history. */
  const historyShare = (pages: [string, BlendResponse][]) => {
    const items = pages.flatMap(([user, page]) => page.items.map((i) => [user, i.itemId] as const));
    return items.filter(([user, item]) => history.get(user)!.has(item)).length / items.length;
  };

  beforeAll(async () => {
    const input = join(dir, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    await runBatchJobs({ worldDir, log: () => {} });
    const rows = await worldRows<{ user_id: string; items: string[] }>(
      worldDir,
      `SELECT user_id, list(DISTINCT item_id) AS items FROM events WHERE action IN ('click', 'save', 'hide') GROUP BY user_id`,
    );
    history = new Map(rows.map((r) => [r.user_id, new Set(r.items)]));
    ({ mesh: config } = testMeshConfig(worldDir, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) => !LEARNED.includes(g.name));
      delete raw.ann;
      delete raw.services.viewer;
      delete raw.services.ranker;
    }));
    mesh = await startAllInOne(config, { ephemeralPorts: true });
  }, 120_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    await mesh?.stop();
  });

  it('never puts an item from the user history on a page of 100', async () => {
    const heavy = [...history].sort((a, b) => b[1].size - a[1].size || (a[0] < b[0] ? -1 : 1)).slice(0, HEAVY_USERS);
    // Far more history than the context's 100 recent actions.
    for (const [, items] of heavy) expect(items.size).toBeGreaterThan(150);
    const pages: [string, BlendResponse][] = [];
    for (const [user] of heavy) pages.push([user, await blend(mesh.addresses.get('blender')!, user)]);
    for (const [user, page] of pages) {
      expect(page.warnings, user).toEqual([]);
      // u77 rated 399 of the 400 items: a short page is right then.
      expect(page.items.length, user).toBeGreaterThan(0);
      expect(
        page.items.filter((i) => history.get(user)!.has(i.itemId)).map((i) => i.itemId),
        `${user}: nothing from the history`,
      ).toEqual([]);
    }
    expect(historyShare(pages)).toBe(0);

    // The same Blends with the engaged filter stripped from the context (as before it existed)
    // do serve history items: the test above is not passing for want of a long history.
    const real = connect(EventsClient, mesh.addresses.get('events')!, { token: testAdminToken() });
    const stripping = await startServer({
      name: 'events-without-engaged-filter',
      port: 0,
      services: [
        bindService(EventsService, {
          log: () => {
            throw unavailable('not used here');
          },
          getUserContext: async (request) => ({
            ...(await callUnary(real, 'getUserContext', request, { timeoutMs: 5_000 })),
            engagedFilter: undefined,
          }),
        }),
      ],
    });
    closers.push(
      () => real.close(),
      () => stripping.stop(100),
    );
    const before: [string, BlendResponse][] = [];
    const blender = await startBlender(
      { ...config, services: { ...config.services, events: { ...config.services.events, port: stripping.port } } },
      { snapshotsDir: join(worldDir, 'snapshots'), port: 0 },
    );
    closers.push(() => blender.stop(100));
    for (const [user] of heavy) before.push([user, await blend(blender.address, user)]);
    const share = historyShare(before);
    console.log(
      `history items on a page of ${LIMIT}: ${(share * 100).toFixed(1)}% without the engaged filter, 0% with it`,
    );
    expect(share).toBeGreaterThan(0);
  });
});

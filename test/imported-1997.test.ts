// The whole path on a MovieLens-layout file dated 1997–98, as a new user takes it: import, prepare
// what the world lacks (snapshots, mf, two-tower and its index, a first ranker) on that data, serve
// it with the full roster, and get a ranked page with most sources answering.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { importInteractions } from '../libs/data/importer.js';
import { UDATA_SMALL, writeUData } from '../libs/data/udata-fixture.js';
import { DAY_MS, readWorldManifest } from '../libs/data/world.js';
import { prepareWorld } from '../services/offline/trainer/prepare-world.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { blendUntil, testMeshConfig } from './fixtures/mesh.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-1997-'));
const worldDir = join(tmp, 'world');
let mesh: Awaited<ReturnType<typeof startAllInOne>> | undefined;
afterAll(async () => {
  await mesh?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const okSources = (r: BlendResponse) =>
  r.sources.filter((s) => s.state === SourceState.SOURCE_STATE_OK).map((s) => s.generator);

describe('a 1997 ratings log, end to end', () => {
  beforeAll(async () => {
    const input = join(tmp, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
  }, 60_000);

  it('keeps the file’s times', async () => {
    const world = await readWorldManifest(worldDir);
    expect(new Date(world.startMs).getUTCFullYear()).toBe(1997);
    expect(new Date(world.startMs + world.days * DAY_MS).getUTCFullYear()).toBe(1998);
  });

  it('is prepared and served: a page of 20, ranked by a ranker trained on it, most sources OK', async () => {
    const { mesh: config } = testMeshConfig(worldDir, (raw) => {
      raw.world.existing = true;
    });
    await prepareWorld(config, { epochs: 2, log: () => {} });
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    const blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    try {
      const blend = () =>
        callUnary(blender, 'blend', { userId: 'u1', limit: 20, debug: false, requestId: '' }, { timeoutMs: 10_000 });
      const response = await blendUntil(blend, (r) => okSources(r).length >= 8 && r.ranking?.ranked === true);
      expect(response.items).toHaveLength(20);
      expect(okSources(response).length).toBeGreaterThanOrEqual(8);
      expect(okSources(response)).toEqual(
        expect.arrayContaining(['popular', 'item_cooccurrence', 'mf', 'two_tower', 'embedding_i2i']),
      );
      expect(response.ranking).toMatchObject({ ranked: true, modelVersion: expect.stringMatching(/^v\d+/) });
      // No source refused the 1997 context.
      expect(
        response.sources
          .filter((s) => s.state === SourceState.SOURCE_STATE_FAILED)
          .map((s) => `${s.generator}: ${s.error}`),
      ).toEqual([]);
    } finally {
      blender.close();
    }
  }, 600_000);
});

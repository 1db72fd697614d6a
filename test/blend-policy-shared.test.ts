// The blender and the eval compose pages with one blend policy (libs/blend): change a page rule in
// the mesh config and the Blend served over gRPC and the eval's page over the same answers change
// alike. The answers are the ones the Blend itself got, read back from its debug journeys.
import { beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import type { Candidate } from '../generated/feedloom/v1/common.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { policyFromConfig } from '../libs/blend/policy.js';
import { itemCatalogOf } from '../libs/blend/catalog.js';
import type { ItemCatalog, SourceAnswer } from '../libs/blend/types.js';
import type { MeshConfig } from '../libs/config/mesh.js';
import { itemMeta } from '../libs/data/batch/jobs/item_meta.js';
import { readSnapshot } from '../libs/data/snapshots.js';
import { ReplayedBlend, type RecordedAnswers } from '../services/offline/eval/replayed-blend.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, smallMesh, testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';
import { sourceFailed } from '../libs/blend/source-state.js';

const LIMIT = 20;
const USERS = 6;

/** Every generator's answer as the Blend got it: each candidate's proposals, in the journeys of a debug Blend, regrouped by generator. */
function answersOf(response: BlendResponse): SourceAnswer[] {
  const byGenerator = new Map<string, Candidate[]>();
  for (const j of response.debug!.journeys) {
    for (const p of j.sources) {
      const list = byGenerator.get(p.generator) ?? [];
      list[p.rank] = { itemId: j.itemId, score: p.score, reason: p.reason };
      byGenerator.set(p.generator, list);
    }
  }
  return response.sources.map((status) => {
    const candidates = byGenerator.get(status.generator) ?? [];
    // Every rank accounted for: the journeys hold all the Blend merged.
    expect(candidates.filter(Boolean), status.generator).toHaveLength(status.candidates);
    return { status, candidates };
  });
}

interface Served {
  mesh: MeshConfig;
  /** Per user: the Blend's page and what it was made from. */
  pages: Map<string, string[]>;
  recorded: Map<string, RecordedAnswers>;
}

describe('one blend policy for the blender and the eval', () => {
  let world: string;
  let users: string[];
  let catalog: ItemCatalog;
  const served = new Map<string, Served>();

  /** A mesh with the page rules edited, its Blends for the test users (debug on), then stopped. */
  async function serve(name: string, rules: { maxPerCreator?: number; maxSourceShare?: number }): Promise<void> {
    const { mesh } = testMeshConfig(world, (raw) => {
      smallMesh(raw);
      raw.services.blender = { ...raw.services.blender, ...rules };
    });
    const running = await startAllInOne(mesh, { ephemeralPorts: true });
    const blender = connect(BlenderClient, running.addresses.get('blender')!, { token: testAdminToken() });
    const blend = (userId: string) =>
      callUnary(blender, 'blend', { userId, limit: LIMIT, debug: true, requestId: '' }, { timeoutMs: 20_000 });
    const pages = new Map<string, string[]>();
    const recorded = new Map<string, RecordedAnswers>();
    try {
      await blendUntil(
        () => blend(users[0]),
        (r) => !r.sources.some(sourceFailed),
      );
      for (const userId of users) {
        const response = await blend(userId);
        pages.set(
          userId,
          response.items.map((i) => i.itemId),
        );
        recorded.set(userId, { user: response.debug!.user!, answers: answersOf(response) });
      }
    } finally {
      blender.close();
      await running.stop();
    }
    served.set(name, { mesh, pages, recorded });
  }

  const proposedItems = (s: Served, userId: string) =>
    JSON.stringify(s.recorded.get(userId)!.answers.map((a) => a.candidates.map((c) => c.itemId)));
  const evalPages = (policyOf: Served, answersOf: Served) => {
    const blend = new ReplayedBlend(policyFromConfig(policyOf.mesh), catalog, answersOf.recorded, LIMIT);
    return new Map(users.map((u) => [u, blend.page(u)]));
  };

  beforeAll(async () => {
    world = await testWorld();
    users = await activeUsers(world, USERS);
    catalog = itemCatalogOf((await readSnapshot(snapshotsOf(world), itemMeta)).rows);
    await serve('shipped', {});
    await serve('one per creator', { maxPerCreator: 1 });
    await serve('small source share', { maxSourceShare: 0.1 });
  }, 240_000);

  it('the eval pages the answers as the Blend did, under each config', () => {
    for (const [name, s] of served) {
      expect(s.mesh.services.blender.maxPerCreator).toBe(name === 'one per creator' ? 1 : 3);
      expect(evalPages(s, s), name).toEqual(s.pages);
    }
  });

  it.each(['one per creator', 'small source share'])(
    'a changed page rule (%s) changes the Blend and the eval alike',
    (name) => {
      const shipped = served.get('shipped')!;
      const changed = served.get(name)!;
      // Users whose generators proposed the same items at the same ranks in both runs (scores decay
      // with the request time, ranks do not): the same inputs to the policy.
      const same = users.filter((u) => proposedItems(changed, u) === proposedItems(shipped, u));
      expect(same.length).toBeGreaterThan(USERS / 2);
      // The rule matters on them: the Blend's page moves for some.
      const moved = same.filter((u) => String(changed.pages.get(u)) !== String(shipped.pages.get(u)));
      expect(moved.length).toBeGreaterThan(0);
      // The eval, on the shipped run's answers, pages them as each config's Blend did.
      const evalChanged = evalPages(changed, shipped);
      const evalShipped = evalPages(shipped, shipped);
      for (const u of same) {
        expect(evalChanged.get(u), u).toEqual(changed.pages.get(u));
        expect(evalShipped.get(u), u).toEqual(shipped.pages.get(u));
      }
    },
  );
});

// The blender's pre-score order on the ranker's held-out sessions (services/offline/trainer/prescore-replay.ts):
// a hand-built slate whose order is known, then the replay of real generators on the tiny world,
// checked against the generators' own answers.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionType, type UserContext } from '../generated/feedloom/v1/common.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { SourceState } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import type { MeshConfig } from '../libs/config/mesh.js';
import { buildRankerDataset } from '../libs/ranking/dataset.js';
import { heldoutMetrics, heldoutRequests, readValRequests } from '../libs/ranking/heldout.js';
import type { ValRequests } from '../libs/ranking/index.js';
import type { SourceAnswer } from '../libs/blend/types.js';
import {
  preScorePlaces,
  preScoreSessions,
  proposalsOfShown,
  replayProposals,
  sessionContext,
  type PreScoreReplay,
} from '../services/offline/trainer/prescore-replay.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const answer = (generator: string, itemIds: string[]): SourceAnswer => ({
  status: {
    generator,
    state: SourceState.SOURCE_STATE_OK,
    candidates: itemIds.length,
    latencyMs: 0,
    error: '',
    snapshotVersion: '',
    modelVersion: '',
  },
  candidates: itemIds.map((itemId) => ({ itemId, score: 1, reason: '' })),
});

describe('pre-score order of a hand-built slate', () => {
  // k = 0: an item's pre-score is Σ weight / (rank + 1) over the generators that proposed it.
  const weights = new Map([
    ['a', 2],
    ['b', 1],
    ['c', 0],
  ]);
  const answers = [
    answer('a', ['x', 'i1', 'i3']),
    answer('b', ['i2', 'i3']),
    answer('c', ['i2']),
    answer('z', ['y1', 'y2', 'y3', 'i6']),
  ];
  // Page order of the shown items (the incumbent's); i4 and i5 no generator proposed.
  const slate = ['i5', 'i4', 'i3', 'i2', 'i1', 'i6'];

  it('keeps every (generator, rank) of each shown item, as the blender dedupes', () => {
    const proposals = proposalsOfShown(slate, answers);
    expect(proposals.map((ps) => ps.map((p) => `${p.generator}@${p.rank}`))).toEqual([
      [],
      [],
      ['a@2', 'b@1'],
      ['b@0', 'c@0'],
      ['a@1'],
      ['z@3'],
    ]);
  });

  it('orders by weighted reciprocal rank, unproposed items last by item id', () => {
    // i1: 2/2 = 1; i3: 2/3 + 1/2 ≈ 1.17; i2: 1/1 + 0 = 1 (ties i1: item id); i6: unknown generator, weight 1: 1/4.
    // Order: i3, i1, i2, i6, i4, i5.
    const places = preScorePlaces(slate, proposalsOfShown(slate, answers), weights, 0);
    expect(places).toEqual([5, 4, 0, 2, 1, 3]);
  });

  it('lets k trade rank against weight, as the blender does', () => {
    // p: b (weight 1) at rank 0; q: a (weight 2) at rank 2. k = 0: p 1/1 > q 2/3. k = 60: q 2/63 > p 1/61.
    const two = [answer('a', ['x', 'y', 'q']), answer('b', ['p'])];
    expect(preScorePlaces(['q', 'p'], proposalsOfShown(['q', 'p'], two), weights, 0)).toEqual([1, 0]);
    expect(preScorePlaces(['q', 'p'], proposalsOfShown(['q', 'p'], two), weights, 60)).toEqual([0, 1]);
  });

  it('scores held-out sessions by that order', () => {
    const val: ValRequests = {
      items: {},
      popularity: {},
      users: { u1: { locale: 'en', actions: [] } },
      sessions: [
        // The save (i6) is 4th in pre-score order: no HIT@3.
        {
          user: 'u1',
          sessionId: 's1',
          timeMs: 1,
          histCount: 0,
          candidates: slate.map((id, r) => [id, 'popular', r]),
          labels: slate.map((id) => [id === 'i6' ? 1 : 0, id === 'i6' ? 1 : 0, id === 'i5' ? 1 : 0]),
        },
        // The save (i1) is 2nd: a hit.
        {
          user: 'u1',
          sessionId: 's2',
          timeMs: 2,
          histCount: 0,
          candidates: slate.map((id, r) => [id, 'popular', r]),
          labels: slate.map((id) => [0, id === 'i1' ? 1 : 0, 0]),
        },
      ],
    };
    const proposals = val.sessions.map((s) =>
      proposalsOfShown(
        s.candidates.map(([id]) => id),
        answers,
      ),
    );
    const sessions = preScoreSessions(val, { proposals, weights: Object.fromEntries(weights), rrfK: 0 });
    // Higher is earlier: minus the place.
    expect([...sessions[0].scores[1]]).toEqual([-5, -4, 0, -2, -1, -3]);
    const m = heldoutMetrics(sessions);
    expect(m.hit3_save).toBe(0.5);
    expect(m.requestsWithSave).toBe(2);
    // Saves: i6 (-3) beats 4 of the 10 negatives and ties 1; i1 (-1) beats 7 and ties 1: (4.5 + 7.5) / 20.
    expect(m.auc_save).toBeCloseTo(0.6, 10);
    // The same proposals become the models' sources when scored as served.
    const requests = heldoutRequests(val, { sources: proposals });
    expect(requests[0].candidates.map((c) => c.sources)).toEqual(
      proposals[0].map((ps) => ps.map((p) => ({ generator: p.generator, rank: p.rank }))),
    );
    expect(heldoutRequests(val)[0].candidates[2].sources).toEqual([{ generator: 'popular', rank: 2 }]);
    expect(() => heldoutRequests(val, { sources: proposals.slice(1) })).toThrow(/1 source lists for 2 sessions/);
  });

  it("builds the session's context from the day-start context and that day's earlier actions", () => {
    const day = 86_400_000 * 100;
    const dayStart: UserContext = {
      userId: 'u1',
      recentActions: [{ itemId: 'old', type: ActionType.ACTION_TYPE_SAVE, timeMs: day - 5, boardId: 'b1' }],
      followedCreators: ['c1'],
      followedBoards: [],
      topics: [],
      locale: 'en',
      requestTimeMs: day,
      ownBoards: [],
      blockedCreators: [],
      seenItems: [],
    };
    const val: ValRequests = {
      items: {},
      popularity: {},
      users: {
        u1: {
          locale: 'en',
          actions: [
            ['old', 2, day - 5],
            ['t1', 1, day + 10],
            ['t2', 3, day + 20],
            ['later', 1, day + 500],
          ],
        },
      },
      sessions: [{ user: 'u1', sessionId: 's', timeMs: day + 100, histCount: 3, candidates: [], labels: [] }],
    };
    const ctx = sessionContext(dayStart, val, val.sessions[0], day);
    expect(ctx.recentActions.map((a) => [a.itemId, a.type])).toEqual([
      ['t2', ActionType.ACTION_TYPE_HIDE],
      ['t1', ActionType.ACTION_TYPE_CLICK],
      ['old', ActionType.ACTION_TYPE_SAVE],
    ]);
    expect(ctx.requestTimeMs).toBe(day + 100);
    expect(ctx.followedCreators).toEqual(['c1']);
  });
});

describe('pre-score replay on the tiny world', () => {
  const GENERATORS = ['popular', 'item_cooccurrence', 'followed_creators', 'topic_popular'];
  let world: string;
  let mesh: MeshConfig;
  let val: ValRequests;
  let replay: PreScoreReplay;

  beforeAll(async () => {
    // The replay writes as-of snapshots into the world's eval folder: a copy, not the shared world.
    world = mkdtempSync(join(tmpdir(), 'feedloom-prescore-world-'));
    cpSync(await testWorld(), world, { recursive: true });
    mesh = testMeshConfig(world, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) => GENERATORS.includes(g.name));
      delete raw.ann;
      delete raw.services.viewer;
      delete raw.services.ranker;
    }).mesh;
    const ds = await buildRankerDataset({
      worldDir: world,
      outDir: mkdtempSync(join(tmpdir(), 'feedloom-prescore-ds-')),
      maxValSessions: 12,
    });
    val = await readValRequests(ds.dir);
    replay = await replayProposals(mesh, val);
  }, 300_000);

  it('gives each shown item the rank each generator gives it, for that session', async () => {
    expect(replay.generators.sort()).toEqual([...GENERATORS].sort());
    expect(replay.proposals).toHaveLength(val.sessions.length);
    expect(replay.impressions).toBe(val.sessions.reduce((n, s) => n + s.candidates.length, 0));
    expect(replay.proposed).toBeGreaterThan(0);
    // Ask the generators again, directly, on the same as-of snapshots, for a few sessions.
    const check: MeshConfig = structuredClone(mesh);
    check.world = {
      ...check.world,
      snapshotsDir: join(world, 'eval', `asof-${replay.asOfMs}`, 'snapshots'),
      asOfMs: replay.asOfMs,
    };
    const running = await startAllInOne(check, { ephemeralPorts: true });
    const events = connect(EventsClient, running.addresses.get('events')!, { token: testAdminToken() });
    let matched = 0;
    try {
      for (const s of val.sessions.slice(0, 4)) {
        const i = val.sessions.indexOf(s);
        const user = sessionContext(
          await callUnary(events, 'getUserContext', { userId: s.user, maxActions: 100 }, { timeoutMs: 10_000 }),
          val,
          s,
          replay.asOfMs,
        );
        for (const g of check.generators) {
          const client = connect(CandidateGeneratorClient, running.addresses.get(`generator.${g.name}`)!);
          const { candidates } = await callUnary(
            client,
            'generate',
            { user, quota: g.quota, requestId: 't' },
            { timeoutMs: 10_000 },
          );
          client.close();
          const rankOf = new Map(candidates.map((c, r) => [c.itemId, r]));
          s.candidates.forEach(([itemId], ci) => {
            expect(replay.proposals[i][ci].find((p) => p.generator === g.name)?.rank, `${g.name} on ${itemId}`).toBe(
              rankOf.get(itemId),
            );
            if (rankOf.has(itemId)) matched++;
          });
        }
      }
    } finally {
      events.close();
      await running.stop();
    }
    expect(matched).toBeGreaterThan(0);
  }, 120_000);

  it('uses the mesh config weights, and reuses the proposals of an earlier run', async () => {
    expect(replay.weights).toEqual(Object.fromEntries(mesh.generators.map((g) => [g.name, g.weight])));
    expect(replay.rrfK).toBe(mesh.services.blender.rrfK);
    const folder = join(world, 'eval', `asof-${replay.asOfMs}`);
    expect(readdirSync(folder).some((f) => f.startsWith('prescore-replay-'))).toBe(true);
    const reweighted: MeshConfig = {
      ...mesh,
      generators: mesh.generators.map((g) => ({ ...g, weight: g.name === 'popular' ? 4 : 0 })),
    };
    const lines: string[] = [];
    const again = await replayProposals(reweighted, val, { log: (line) => lines.push(line) });
    expect(lines.join('\n')).toMatch(/reusing .*prescore-replay-/);
    expect(again.proposals).toEqual(replay.proposals);
    expect(again.weights.popular).toBe(4);
    // With only popular weighted, pre-score order is popular's order: the first place goes to popular's best-ranked shown item.
    const sessions = preScoreSessions(val, again);
    val.sessions.forEach((s, i) => {
      const ranks = again.proposals[i].map((ps) => ps.find((p) => p.generator === 'popular')?.rank ?? Infinity);
      const best = Math.min(...ranks);
      if (best === Infinity) return;
      const first = sessions[i].scores[0].indexOf(0);
      expect(ranks[first]).toBe(best);
    });
  });

  afterAll(() => rmSync(world, { recursive: true, force: true }));
});

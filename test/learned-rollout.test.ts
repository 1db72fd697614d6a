// A rollout under load, with real parts: two two_tower versions trained by the real trainer with
// different seeds, indexed, a viewer holding both, two ANN hosts swapped from v0001 to v0002 one at
// a time while requests flow through the two_tower generator. Every answer must use one version on
// both sides (the user embedding and the index of the host that answered) and no request may fail.
// Then the same side-by-side state with --unsynced, to show what the sync prevents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnAdminClient } from '../generated/feedloom/v1/ann.js';
import type { UserContext } from '../generated/feedloom/v1/common.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { messageOf } from '../libs/bootstrap/errors.js';
import { eventsView, openDuck, queryRows } from '../libs/data/duck.js';
import type { TwoTowerManifest } from '../libs/features/two-tower.js';
import { startGeneratorForTest } from '../libs/generator-sdk/testing.js';
import { ModelRegistry } from '../libs/registry/registry.js';
import { startAnnHost } from '../services/ann/service.js';
import twoTower from '../services/generators/two_tower/generator.js';
import { runIndexer } from '../libs/ann/indexer.js';
import { startViewer } from '../services/viewer/service.js';
import { startTestEvents } from './fixtures/events.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';
import { trainedRegistry } from './fixtures/learned.js';
import { testAdminToken, testServerSecurity } from './fixtures/mesh.js';

type Generator = Awaited<ReturnType<typeof startGeneratorForTest>>;
interface Answer {
  host: string;
  modelVersion: string;
  items: string[];
}

const quiet = () => {};
const hostOf = (reason: string) => /ann\.([\w-]+)\)$/.exec(reason)?.[1] ?? '?';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two_tower during a rollout (real trained versions, viewer, two ANN hosts)', () => {
  let world: string;
  let viewer: Awaited<ReturnType<typeof startViewer>>;
  let hosts: Awaited<ReturnType<typeof startAnnHost>>[];
  let admin: Record<string, AnnAdminClient>;
  let synced: Generator;
  let unsynced: Generator;
  let events: Awaited<ReturnType<typeof startTestEvents>>;
  let contexts: UserContext[];
  let targets: Map<string, Set<string>>;

  beforeAll(async () => {
    world = await testWorld();
    const registryDir = await trainedRegistry(world, [1, 2]);
    for (const version of ['v0001', 'v0002']) await runIndexer({ registryDir, worldDir: world, version });
    viewer = await startViewer({ registryDir, keepVersions: 3, pollMs: 3_600_000, port: 0, log: quiet });
    hosts = await Promise.all(
      ['a', 'b'].map((name) =>
        startAnnHost({
          name,
          registryDir,
          port: 0,
          pin: { two_tower: 'v0001' },
          log: quiet,
          security: testServerSecurity(),
        }),
      ),
    );
    admin = Object.fromEntries(
      hosts.map((h) => [h.ann.name, connect(AnnAdminClient, h.adminAddress!, { token: testAdminToken() })]),
    );
    const settings = {
      viewerAddress: viewer.address,
      annHosts: hosts.map((h) => ({ name: h.ann.name, address: h.address })),
      callTimeoutMs: 5_000,
    };
    synced = await startGeneratorForTest(twoTower, snapshotsOf(world), settings);
    unsynced = await startGeneratorForTest(twoTower, snapshotsOf(world), { ...settings, unsynced: true });

    // Users as of the models' validation window, and what they engaged with inside it.
    const manifest = (await new ModelRegistry(registryDir).get<TwoTowerManifest>('two_tower', 'v0001')).manifest;
    const window = manifest.validationWindow!;
    events = await startTestEvents(world, { asOfMs: window.startMs });
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world);
      const rows = await queryRows<{ user_id: string; item_id: string }>(
        duck.conn,
        `SELECT DISTINCT user_id, item_id FROM events WHERE action IN ('click','save') AND time_ms >= ${window.startMs} AND time_ms < ${window.endMs} ORDER BY user_id, item_id`,
      );
      targets = new Map();
      for (const r of rows) targets.set(r.user_id, (targets.get(r.user_id) ?? new Set()).add(r.item_id));
    } finally {
      duck.close();
    }
    const userIds = [...targets.keys()].slice(0, 40);
    contexts = await Promise.all(userIds.map((u) => events.context(u)));
  }, 300_000);

  afterAll(async () => {
    for (const c of Object.values(admin ?? {})) c.close();
    await synced?.stop();
    await unsynced?.stop();
    await events?.stop();
    await Promise.all((hosts ?? []).map((h) => h.stop(100)));
    await viewer?.stop(100);
  });

  const adminCall = (host: string, method: 'loadVersion' | 'serveVersion' | 'unloadVersion', version: string) =>
    callUnary(admin[host], method, { model: 'two_tower', version }, { timeoutMs: 30_000 });

  async function ask(generator: Generator, user: UserContext, quota = 100): Promise<Answer> {
    const res = await generator.generate(user, quota);
    return {
      host: hostOf(res.candidates[0]?.reason ?? ''),
      modelVersion: res.modelVersion,
      items: res.candidates.map((c) => c.itemId),
    };
  }

  it('hosts swap v0001 → v0002 one at a time under load: every answer in one version, none fails', async () => {
    const answers: (Answer & { phase: string })[] = [];
    const failures: string[] = [];
    let phase = 'both v0001';
    let stop = false;
    const lane = async (offset: number) => {
      for (let i = offset; !stop; i++) {
        const user = contexts[i % contexts.length];
        const started = phase;
        try {
          const answer = await ask(synced, user, 50);
          // Answers that straddle a switch belong to no phase.
          answers.push({ ...answer, phase: phase === started ? started : 'transition' });
        } catch (err) {
          failures.push(`${started}: ${messageOf(err)}`);
        }
      }
    };
    const lanes = [lane(0), lane(7), lane(13), lane(21)];
    await sleep(300);
    await adminCall('a', 'loadVersion', 'v0002');
    await sleep(200);
    await adminCall('a', 'serveVersion', 'v0002');
    phase = 'side by side';
    await sleep(800);
    await adminCall('b', 'loadVersion', 'v0002');
    await adminCall('b', 'serveVersion', 'v0002');
    // Drop v0001 at once: requests that read v0001 a moment ago must retry, not fail.
    await Promise.all([adminCall('a', 'unloadVersion', 'v0001'), adminCall('b', 'unloadVersion', 'v0001')]);
    phase = 'both v0002';
    await sleep(500);
    stop = true;
    await Promise.all(lanes);

    expect(failures).toEqual([]);
    expect(answers.length).toBeGreaterThan(20);
    // The user embedding's version is the index version of the host that answered, every time.
    expect(answers.filter((a) => !/^v\d{4}$/.test(a.modelVersion))).toEqual([]);
    const sideBySide = answers.filter((a) => a.phase === 'side by side');
    expect(new Set(sideBySide.map((a) => `${a.host}:${a.modelVersion}`))).toEqual(new Set(['a:v0002', 'b:v0001']));
    expect(new Set(answers.filter((a) => a.phase === 'both v0001').map((a) => a.modelVersion))).toEqual(
      new Set(['v0001']),
    );
    const after = answers.filter((a) => a.phase === 'both v0002');
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after.map((a) => a.modelVersion))).toEqual(new Set(['v0002']));
  });

  it('with --unsynced the same side-by-side state mixes versions and loses recall', async () => {
    // Side by side again: a serves v0001, b serves v0002; the viewer's newest is v0002.
    await adminCall('a', 'loadVersion', 'v0001');
    await adminCall('a', 'serveVersion', 'v0001');
    const recall = (answers: Answer[], users: UserContext[]) => {
      let hit = 0;
      let total = 0;
      answers.forEach((a, i) => {
        const want = targets.get(users[i].userId)!;
        const engaged = new Set(users[i].recentActions.map((x) => x.itemId));
        const fresh = [...want].filter((t) => !engaged.has(t));
        total += fresh.length;
        hit += fresh.filter((t) => a.items.includes(t)).length;
      });
      return total ? hit / total : 0;
    };
    // Ask until each user has an answer from host a (v0001 index) in each mode.
    const fromA = async (generator: Generator) => {
      const out: Answer[] = [];
      for (const user of contexts) {
        let answer = await ask(generator, user);
        for (let i = 0; answer.host !== 'a' && i < 6; i++) answer = await ask(generator, user);
        expect(answer.host).toBe('a');
        out.push(answer);
      }
      return out;
    };
    const syncedA = await fromA(synced);
    const unsyncedA = await fromA(unsynced);
    expect(new Set(syncedA.map((a) => a.modelVersion))).toEqual(new Set(['v0001']));
    // Every unsynced answer from host a embedded the user with v0002 and searched the v0001 index.
    expect(new Set(unsyncedA.map((a) => a.modelVersion))).toEqual(new Set(['user:v0002/index:v0001']));
    const rSynced = recall(syncedA, contexts);
    const rUnsynced = recall(unsyncedA, contexts);
    console.error(
      `recall@100 on held-out engagements, host a (index v0001): synced ${rSynced.toFixed(3)}, unsynced ${rUnsynced.toFixed(3)}`,
    );
    expect(rSynced).toBeGreaterThan(0.2);
    expect(rUnsynced).toBeLessThan(rSynced * 0.75);
  });
});

// The multi-host test with the events service on JetStream: a broker host running nats-server, two
// events replicas on two hosts each owning half the partitions, callers reaching them through one
// DNS name over both (any replica forwards to the owner). Blends and Logs for users of both
// replicas; one replica SIGKILLed (its users degrade, the other's do not) and restarted (its users
// rebuilt from the broker, no acknowledged event lost).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../libs/data/event-stream.js';
import { startNatsServer } from '../services/ops/mesh/nats-server.js';
import { testAdminToken } from './fixtures/mesh.js';
import type { EventsProbeRequest, EventsProbeResult } from './fixtures/multihost-events.js';
import { multihostLayout } from './fixtures/multihost-layout.js';
import { MultihostMesh, multihostUnavailable } from './fixtures/multihost-mesh.js';
import type { ProbeResult } from './fixtures/multihost-probe.js';
import { natsMissing } from './fixtures/nats.js';

const skipReason = multihostUnavailable() ?? natsMissing;
if (skipReason) console.warn(`multi-host JetStream test skipped: ${skipReason}`);

const PARTITIONS = 16;
const NATS_PORT = 4222;
/** Events replica r runs on host events-r (component events.r) and owns partitions p with p mod 2 = r. */
const EVENTS = ['events-0', 'events-1'];
const ownerOf = (user: string) => partitionOf(user, PARTITIONS) % 2;
const eventsScript = fileURLToPath(new URL('./fixtures/multihost-events.ts', import.meta.url));

describe.skipIf(!!skipReason)('the mesh across hosts with events on JetStream (two replicas owning partitions)', () => {
  let m: MultihostMesh;

  beforeAll(async () => {
    m = new MultihostMesh(
      multihostLayout({
        hosts: { broker: [], 'events-0': ['events.0'], 'events-1': ['events.1'] },
        // `events` (what callers use) resolves to both replicas; events-r to one (how they reach each other).
        names: { events: EVENTS, 'events-0': ['events-0'], 'events-1': ['events-1'] },
        edit: (events, target, at) => {
          events.backend = 'jetstream';
          events.jetstream = {
            servers: [`nats://${at('broker')}:${NATS_PORT}`],
            partitions: PARTITIONS,
            managed: false,
          };
          events.replicas = EVENTS.map((host) => ({ address: target(host, events.port) }));
          events.address = target('events', events.port);
        },
        counted: { 'events-0': 'events-0', 'events-1': 'events-1' },
      }),
      'multihost-jetstream',
    );
    await m.configure();
    // The broker first: a replica replays its partitions from it at start-up.
    const broker = await startNatsServer({
      host: m.at('broker'),
      port: NATS_PORT,
      storeDir: join(m.tmp, 'nats'),
      spawn: (command, args) => m.spawnOn('broker', command, args),
    });
    expect(broker.url).toBe(`nats://${m.at('broker')}:${NATS_PORT}`);
    await m.startAll();
  }, 240_000);

  afterAll(async () => {
    const left = (await m?.remove()) ?? [];
    expect(left, 'namespaces that could not be deleted').toEqual([]);
  });

  it(
    'serves and logs users of both replicas, through a SIGKILLed replica and its restart',
    { timeout: 300_000 },
    async () => {
      const [u0, v0] = m.users.filter((u) => ownerOf(u) === 0);
      const [u1, v1] = m.users.filter((u) => ownerOf(u) === 1);
      expect([u0, v0, u1, v1].every(Boolean), 'active users of both replicas').toBe(true);
      const prefix = `mh-${m.lan.run}-`;
      const events = (log: EventsProbeRequest['log']) =>
        m.runOnClient<EventsProbeResult>(eventsScript, {
          target: m.mesh.services.events.address!,
          token: testAdminToken(),
          log,
          replicas: Object.fromEntries(m.mesh.services.events.replicas!.map((r, i) => [EVENTS[i], r.address])),
          read: [u0, v0, u1, v1],
          itemPrefix: prefix,
        } satisfies EventsProbeRequest);
      // Blends for the users of one replica: answered, and with a warning (no user context).
      const byOwner = (r: ProbeResult, owner: number) =>
        Object.entries(r.perUser)
          .filter(([u]) => ownerOf(u) === owner)
          .reduce((s, [, p]) => ({ answered: s.answered + p.answered, warned: s.warned + p.warned }), {
            answered: 0,
            warned: 0,
          });
      const ownersLine = (r: ProbeResult) =>
        `; users of ${EVENTS.map((e, i) => `${e}: ${byOwner(r, i).answered} Blends, ${byOwner(r, i).warned} warned`).join('; ')}`;

      // Both replicas up: Blends for users of either are answered in full, and both replicas answer calls.
      const spread = await m.probe('traffic', 5_000);
      m.report('both events replicas up', spread, ownersLine(spread));
      expect(spread.failed).toBe(0);
      for (const owner of [0, 1]) {
        expect(byOwner(spread, owner).answered, `Blends for users of ${EVENTS[owner]}`).toBeGreaterThan(0);
        expect(byOwner(spread, owner).warned, `warned Blends for users of ${EVENTS[owner]}`).toBe(0);
      }
      for (const e of EVENTS) expect(m.delta(spread, e), e).toBeGreaterThan(0);

      // Log through the DNS name, one call split over both owners and one per owner: acknowledged,
      // then in each user's context through either replica.
      const logged = await events([
        {
          key: 'both',
          clicks: [
            [u0, `${prefix}1`],
            [u1, `${prefix}2`],
          ],
        },
        { key: 'owner-0', clicks: [[v0, `${prefix}3`]] },
        { key: 'owner-1', clicks: [[v1, `${prefix}4`]] },
      ]);
      expect(logged.logged).toEqual([
        { key: 'both', accepted: 2 },
        { key: 'owner-0', accepted: 1 },
        { key: 'owner-1', accepted: 1 },
      ]);
      const acknowledged: Record<string, string[]> = { [u0]: ['1'], [u1]: ['2'], [v0]: ['3'], [v1]: ['4'] };
      // A context lists the newest action first.
      const expectSeen = (seen: EventsProbeResult['seen'][string], users: string[]) => {
        for (const u of users) expect(seen[u], u).toEqual(acknowledged[u].map((i) => `${prefix}${i}`).reverse());
      };
      for (const e of EVENTS) expectSeen(logged.seen[e], [u0, v0, u1, v1]);

      // events-1 SIGKILLed while Blends flow: every Blend answered; its users' without context (warned),
      // events-0's in full.
      let killed: Promise<void> | undefined;
      const kill = await m.probe('traffic', 8_000, () => (killed = m.killHost('events-1', 'SIGKILL')));
      await killed;
      m.report('events-1 SIGKILLed', kill, ownersLine(kill));
      expect(kill.failed).toBe(0);
      expect(kill.minItems).toBeGreaterThan(0);
      expect(kill.after['events-1']).toBeNull();
      expect(m.delta(kill, 'events-0')).toBeGreaterThan(0);
      expect(byOwner(kill, 0).answered).toBeGreaterThan(0);
      expect(byOwner(kill, 0).warned, 'warned Blends for users of events-0').toBe(0);
      expect(byOwner(kill, 1).warned, 'warned Blends for users of events-1').toBeGreaterThan(0);

      // Meanwhile Log goes on for events-0's users; events-1's are refused, naming it.
      const down = await events([
        { key: 'down-0', clicks: [[u0, `${prefix}5`]] },
        { key: 'down-1', clicks: [[u1, `${prefix}6`]] },
      ]);
      console.log(`[multihost-jetstream] Log while events-1 is down: ${JSON.stringify(down.logged)}`);
      expect(down.logged[0]).toEqual({ key: 'down-0', accepted: 1 });
      expect(down.logged[1].error).toMatch(/events replica 1 .*unavailable/);
      acknowledged[u0].push('5');
      expectSeen(down.seen['events-0'], [u0, v0]);
      expect(down.seen['events-0'][u1]).toMatch(/events replica 1/);

      // Restarted: it rebuilds its users from the broker and answers calls again.
      await m.startHost('events-1');
      const back = await m.untilTraffic(['events-1']);
      m.report('events-1 restarted', back, ownersLine(back));
      expect(back.failed).toBe(0);
      const full = await m.probe('traffic', 3_000);
      m.report('after the restart', full, ownersLine(full));
      for (const owner of [0, 1]) expect(byOwner(full, owner).warned, `warned Blends, ${EVENTS[owner]}`).toBe(0);

      // No acknowledged event lost, none doubled: through either replica; the refused call, retried, written once.
      const after = await events([{ key: 'down-1', clicks: [[u1, `${prefix}6`]] }]);
      expect(after.logged).toEqual([{ key: 'down-1', accepted: 1 }]);
      acknowledged[u1].push('6');
      for (const e of EVENTS) expectSeen(after.seen[e], [u0, v0, u1, v1]);
    },
  );
});

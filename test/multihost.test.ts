// The mesh across hosts for real: network namespaces as hosts on one bridge, every service bound to
// 0.0.0.0 and reached by dns:// names that a real DNS server (dnsmasq) answers, the generator group's
// name with both replicas' addresses. Blends from a client host while a replica is SIGKILLed and
// while two hosts' links are down; per-replica call counts show the spread and the return.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEN_REPLICAS, multihostLayout } from './fixtures/multihost-layout.js';
import { MultihostMesh, multihostUnavailable } from './fixtures/multihost-mesh.js';

const skipReason = multihostUnavailable();
if (skipReason) console.warn(`multi-host test skipped: ${skipReason}`);

describe.skipIf(!!skipReason)('the mesh across hosts (network namespaces, dnsmasq, round robin)', () => {
  let m: MultihostMesh;

  beforeAll(async () => {
    // The events service on its own host, on the file log.
    m = new MultihostMesh(
      multihostLayout({
        hosts: { events: ['events'] },
        names: { events: ['events'] },
        edit: (events, target) => (events.address = target('events', events.port)),
      }),
    );
    await m.configure();
    await m.startAll();
  }, 240_000);

  afterAll(async () => {
    const left = (await m?.remove()) ?? [];
    expect(left, 'namespaces that could not be deleted').toEqual([]);
  });

  it('answers every Blend across hosts, through a SIGKILLed replica and cut links', { timeout: 300_000 }, async () => {
    const spread = await m.probe('traffic', 5_000);
    m.report('both replicas up', spread);
    expect(spread.failed).toBe(0);
    expect(spread.ranked).toBe(spread.answered);
    for (const r of [...GEN_REPLICAS, 'ann-a', 'ann-b']) expect(m.delta(spread, r), r).toBeGreaterThan(0);

    let killed: Promise<void> | undefined;
    const kill = await m.probe('traffic', 8_000, () => (killed = m.killHost('gen-b', 'SIGKILL')));
    await killed;
    m.report('gen-b SIGKILLed', kill);
    expect(kill.failed).toBe(0);
    expect(kill.minItems).toBeGreaterThan(0);
    expect(m.delta(kill, 'gen-a')).toBeGreaterThan(0);
    expect(kill.after['gen-b']).toBeNull();

    await m.startHost('gen-b');
    const back = await m.untilTraffic(['gen-b']);
    m.report('gen-b restarted', back);
    expect(back.failed).toBe(0);

    let cut = false;
    const down = await m.probe('traffic', 10_000, () => {
      m.lan.setLink('gen-a', false);
      m.lan.setLink('ann-a', false);
      cut = true;
    });
    m.report('gen-a and ann-a links down', down);
    expect(cut).toBe(true);
    expect(down.failed).toBe(0);
    expect(down.minItems).toBeGreaterThan(0);
    expect(m.delta(down, 'gen-b')).toBeGreaterThan(0);

    m.lan.setLink('gen-a', true);
    m.lan.setLink('ann-a', true);
    const up = await m.untilTraffic(['gen-a', 'ann-a']);
    m.report('links up again', up);
    expect(up.failed).toBe(0);
  });
});

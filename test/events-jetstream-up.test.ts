import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { meshComponents } from '../services/ops/mesh/components.js';
import { startInProcess } from '../services/servers.js';
import { click } from './fixtures/events.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { natsMissing } from './fixtures/nats.js';

/** `up` with services.events.backend "jetstream": the mesh starts its own nats-server and stops it on exit. */

let world: string;
beforeAll(async () => {
  world = await mkdtemp(join(tmpdir(), 'events-jetstream-up-'));
  await simulateWorld({ preset: 'tiny', seed: 5, dir: world, log: () => {} });
});
afterAll(async () => {
  await rm(world, { recursive: true, force: true });
});

describe.skipIf(natsMissing !== undefined)('the mesh on the JetStream backend', () => {
  it('starts a local nats-server before the events service, keeps its store in the world, and stops it', async () => {
    const { mesh } = testMeshConfig(world, (raw) => {
      raw.services.events.backend = 'jetstream';
    });
    expect(mesh.services.events.jetstream.managed).toBe(true);
    const components = meshComponents(mesh, { ephemeralPorts: true });
    expect(components.slice(0, 2).map((c) => c.name)).toEqual(['nats', 'events']);
    const running = await startInProcess(mesh, components.slice(0, 2), { ephemeralPorts: true });
    const broker = running.addresses.get('nats')!;
    expect(broker).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(mesh.services.events.jetstream.servers).toEqual([broker]);
    const client = connect(EventsClient, running.addresses.get('events')!, { token: testAdminToken() });
    try {
      const ack = await callUnary(
        client,
        'log',
        { idempotencyKey: 'up-1', events: [click('u1', 'via-up')] },
        { timeoutMs: 5_000 },
      );
      expect(ack).toMatchObject({ accepted: 1, lastSequence: 1 });
      expect(existsSync(join(world, 'run', 'nats', 'jetstream'))).toBe(true);
    } finally {
      client.close();
      await running.stop();
    }
    // Stopped: nothing listens on the broker's port any more.
    const [, port] = /:(\d+)$/.exec(broker)!;
    const { connect: natsConnect } = await import('@nats-io/transport-node');
    await expect(natsConnect({ port: Number(port), reconnect: false, timeout: 1_000 })).rejects.toThrow();
  });
});

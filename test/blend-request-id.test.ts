// The x-request-id header is the caller's to set: one that is not a valid id (300 characters, say)
// is replaced at the edge with a fresh one, never forwarded to the generators, which would refuse it
// and leave the feed empty.
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, type BlendResponse } from '../generated/feedloom/v1/blender.js';
import { connect } from '../libs/bootstrap/client.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const GENERATORS = ['popular', 'item_cooccurrence', 'followed_creators'];

describe('a Blend with a hostile x-request-id header', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let client: BlenderClient;

  beforeAll(async () => {
    const world = await testWorld();
    const { mesh: config } = testMeshConfig(world, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) => GENERATORS.includes(g.name));
    });
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    // Over the network, as an outside caller sends the header.
    client = connect(BlenderClient, mesh.addresses.get('blender')!, { inProcess: false });
  });
  afterAll(async () => {
    client?.close();
    await mesh?.stop();
  });

  const blendWithHeader = (requestId: string) =>
    new Promise<BlendResponse>((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set('x-request-id', requestId);
      client.blend(
        { userId: 'u3', limit: 10, debug: false, requestId: '' },
        metadata,
        { deadline: Date.now() + 10_000 },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });

  it('returns items when the header is 300 characters long', async () => {
    const response = await blendWithHeader('r'.repeat(300));
    expect(response.items.length).toBeGreaterThan(0);
    expect(response.sources.every((s) => !/request_id/.test(s.error ?? ''))).toBe(true);
  });
});

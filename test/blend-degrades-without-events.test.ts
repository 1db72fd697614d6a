// Without the events service the feed degrades to unpersonalized and says so; it does not fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState } from '../generated/feedloom/v1/blender.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('Blend when the events service is down', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;

  beforeAll(async () => {
    const { mesh: config } = testMeshConfig(await testWorld(), (raw) => (raw.services.blender.hydrateDeadlineMs = 500));
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    blender = connect(BlenderClient, mesh.addresses.get('blender')!);
  });
  afterAll(async () => {
    blender?.close();
    await mesh?.stop();
  });

  it('serves a page from the generators that need no history, with a warning', async () => {
    await mesh.servers.find((s) => s.name === 'events')!.stop(100);
    const response = await callUnary(
      blender,
      'blend',
      { userId: 'u3', limit: 10, debug: false, requestId: '' },
      { timeoutMs: 5_000 },
    );
    expect(response.warnings).toHaveLength(1);
    expect(response.warnings[0]).toMatch(/^user context unavailable \(.+\); served unpersonalized$/);
    expect(response.items).toHaveLength(10);
    expect(response.sources.find((s) => s.generator === 'popular')!.state).toBe(SourceState.SOURCE_STATE_OK);
  });
});

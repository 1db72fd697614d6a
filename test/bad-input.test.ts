// Malformed requests to every service get INVALID_ARGUMENT with the field and the rule, and the
// service keeps serving.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const T = { timeoutMs: 5_000 };

async function expectInvalid(call: Promise<unknown>, message: RegExp) {
  const err = (await call.then(
    () => undefined,
    (e) => e,
  )) as { code: number; details: string } | undefined;
  expect(err, 'the call should have failed').toBeDefined();
  expect(err!.code).toBe(status.INVALID_ARGUMENT);
  expect(err!.details).toMatch(message);
}

describe('bad input is refused with the field and the rule', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let events: EventsClient;
  let generators: CandidateGeneratorClient[];

  beforeAll(async () => {
    const { mesh: config } = testMeshConfig(await testWorld());
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    events = connect(EventsClient, mesh.addresses.get('events')!, { token: testAdminToken() });
    generators = config.generators.map((g) =>
      connect(CandidateGeneratorClient, mesh.addresses.get(`generator.${g.name}`)!),
    );
  });
  afterAll(async () => {
    for (const c of [blender, events, ...generators]) c?.close();
    await mesh?.stop();
  });

  it('Blender.Blend', async () => {
    await expectInvalid(
      callUnary(blender, 'blend', { userId: '', limit: 10, debug: false, requestId: '' }, T),
      /^user_id: is required/,
    );
    await expectInvalid(
      callUnary(blender, 'blend', { userId: 'u1', limit: -3, debug: false, requestId: '' }, T),
      /^limit: must be an integer from 1 to 500 \(got -3\)/,
    );
    await expectInvalid(
      callUnary(blender, 'blend', { userId: 'u1', limit: 1_000_000, debug: false, requestId: '' }, T),
      /^limit: must be an integer from 1 to 500/,
    );
    await expectInvalid(
      callUnary(blender, 'blend', { userId: 'u\u0000x', limit: 5, debug: false, requestId: '' }, T),
      /^user_id: must be valid UTF-8 text/,
    );
    await expectInvalid(
      callUnary(blender, 'blend', { userId: 'u'.repeat(300), limit: 5, debug: false, requestId: '' }, T),
      /^user_id: must be at most 256 characters/,
    );
  });

  it('CandidateGenerator.Generate, on every generator', async () => {
    const user = {
      userId: 'u1',
      recentActions: [],
      followedCreators: [],
      followedBoards: [],
      topics: [],
      locale: '',
      requestTimeMs: 0,
      ownBoards: [],
      blockedCreators: [],
      seenItems: [],
    };
    for (const client of generators) {
      await expectInvalid(
        callUnary(client, 'generate', { user: undefined, quota: 10, requestId: '' }, T),
        /^user: is required/,
      );
      await expectInvalid(
        callUnary(client, 'generate', { user, quota: 0, requestId: '' }, T),
        /^quota: must be an integer from 1 to 10000 \(got 0\)/,
      );
      await expectInvalid(
        callUnary(client, 'generate', { user: { ...user, userId: '' }, quota: 10, requestId: '' }, T),
        /^user\.user_id: is required/,
      );
      await expectInvalid(
        callUnary(
          client,
          'generate',
          {
            user: { ...user, recentActions: [{ itemId: 'i1', type: 42 as ActionType, timeMs: 0, boardId: '' }] },
            quota: 10,
            requestId: '',
          },
          T,
        ),
        /^user\.recent_actions\[0\]\.type: must be one of ACTION_TYPE_IMPRESSION, ACTION_TYPE_CLICK, ACTION_TYPE_SAVE, ACTION_TYPE_HIDE \(got 42\)/,
      );
      await expectInvalid(
        callUnary(
          client,
          'generate',
          {
            user: {
              ...user,
              recentActions: [{ itemId: '', type: ActionType.ACTION_TYPE_CLICK, timeMs: 0, boardId: '' }],
            },
            quota: 10,
            requestId: '',
          },
          T,
        ),
        /^user\.recent_actions\[0\]\.item_id: is required/,
      );
      // Still serving after all that.
      const ok = await callUnary(client, 'generate', { user, quota: 3, requestId: '' }, T);
      expect(ok.candidates.length).toBeLessThanOrEqual(3);
    }
  });

  it('Events.Log and Events.GetUserContext', async () => {
    const event = {
      userId: 'u1',
      itemId: 'i1',
      action: ActionType.ACTION_TYPE_CLICK,
      timeMs: 0,
      boardId: '',
      source: '',
      requestId: '',
    };
    await expectInvalid(callUnary(events, 'log', { idempotencyKey: '', events: [] }, T), /^events: /);
    await expectInvalid(
      callUnary(
        events,
        'log',
        { idempotencyKey: '', events: [event, { ...event, action: ActionType.ACTION_TYPE_UNSPECIFIED }] },
        T,
      ),
      /^events\[1\]\.action: /,
    );
    await expectInvalid(
      callUnary(events, 'log', { idempotencyKey: '', events: [{ ...event, itemId: '' }] }, T),
      /^events\[0\]\.item_id: /,
    );
    await expectInvalid(callUnary(events, 'getUserContext', { userId: '', maxActions: 0 }, T), /^user_id: /);
    await expectInvalid(callUnary(events, 'getUserContext', { userId: 'u1', maxActions: -1 }, T), /^max_actions: /);
  });
});

// A sweep of malformed, oversized and nonsense requests at every service of the whole mesh (blender,
// events, each of the generators through the one generator interface, viewer, both ANN hosts'
// search and admin, ranker). Each request gets a fitting status (never UNKNOWN or INTERNAL) with a
// message naming the field, and every server still reports SERVING afterwards. Some requests are
// sent as raw bytes (a grpc-js client with a pass-through serializer), because a typed client cannot
// produce invalid UTF-8 in a string field, enum numbers the proto does not define, undecodable
// messages or messages over the size limit.
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnnAdminClient, AnnSearchClient } from '../generated/feedloom/v1/ann.js';
import { BlenderClient } from '../generated/feedloom/v1/blender.js';
import { ActionType, UserContext } from '../generated/feedloom/v1/common.js';
import { EventsClient } from '../generated/feedloom/v1/events.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { RankerClient } from '../generated/feedloom/v1/ranker.js';
import { ViewerModelClient } from '../generated/feedloom/v1/viewer.js';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../libs/bootstrap/server.js';
import { ModelRegistry } from '../libs/registry/index.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { operatorChannelOf } from '../libs/bootstrap/mesh-security.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { registerRankerCopy, trainedTinyRanker } from './fixtures/ranker.js';

const T = { timeoutMs: 10_000 };
const ACCEPTABLE = [status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.RESOURCE_EXHAUSTED, status.NOT_FOUND];

type Outcome = { code: number; details: string };
const outcome = (call: Promise<unknown>): Promise<Outcome> =>
  call.then(
    () => ({ code: status.OK, details: '' }),
    (e: { code: number; details: string }) => ({ code: e.code, details: e.details }),
  );

/** Expects the exact code, and a message that names the field (matches `message`). */
async function expectRefused(call: Promise<unknown>, code: status, message: RegExp): Promise<void> {
  const got = await outcome(call);
  expect(ACCEPTABLE).toContain(code);
  expect({ code: status[got.code], details: got.details }).toMatchObject({
    code: status[code],
    details: expect.stringMatching(message),
  });
}

/** One unary call with the request given as bytes, exactly as they go on the wire. */
/** The admin token, on every raw call: GetUserContext and AnnAdmin are operations. */
let operatorToken = '';
const withToken = () => {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${operatorToken}`);
  return metadata;
};

function rawCall(client: Client, path: string, bytes: Uint8Array, metadata = withToken()): Promise<Outcome> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(bytes),
      metadata,
      { deadline: Date.now() + T.timeoutMs },
      (err) => resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: '' }),
    ),
  );
}
async function expectRawRefused(
  client: Client,
  path: string,
  bytes: Uint8Array,
  code: status,
  message: RegExp,
): Promise<void> {
  const got = await rawCall(client, path, bytes);
  expect({ path, code: status[got.code], details: got.details }).toMatchObject({
    path,
    code: status[code],
    details: expect.stringMatching(message),
  });
}

// Wire-level pieces: "u", two bytes that are not UTF-8, "1".
const NOT_UTF8 = new Uint8Array([0x75, 0xff, 0xfe, 0x31]);
const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;
const w = () => new BinaryWriter();
/** Field 1 claims 5 bytes and carries 1: no decoder can read it. */
const TRUNCATED = new Uint8Array([0x0a, 0x05, 0x61]);
/** One string field just over the message size limit. */
const OVERSIZED = w()
  .tag(1, LEN)
  .bytes(new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1024).fill(0x61))
  .finish();
/** A UserContext (as a sub-message) whose user_id is not UTF-8. */
const userWithBadId = (field: number) => w().tag(field, LEN).fork().tag(1, LEN).bytes(NOT_UTF8).join();
/** A UserContext whose first recent action has an ActionType number the proto does not define. */
const userWithUnknownAction = (field: number) =>
  w()
    .tag(field, LEN)
    .fork()
    .tag(1, LEN)
    .string('u1')
    .tag(2, LEN)
    .fork()
    .tag(1, LEN)
    .string('i1')
    .tag(2, VARINT)
    .int32(42)
    .join()
    .join();

const user = UserContext.fromPartial({ userId: 'u1' });

describe('bad-input sweep over every service', () => {
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let generatorNames: string[];
  let annHosts: string[];
  let dim: number;
  let version: string;
  const clients: { close(): void }[] = [];
  const track = <C extends { close(): void }>(c: C): C => (clients.push(c), c);
  const addressOf = (name: string) => mesh.addresses.get(name)!;
  const raw = (name: string) => track(new Client(addressOf(name), credentials.createInsecure()));
  const adminAddressOf = (name: string) => mesh.servers.find((s) => s.name === name)!.adminAddress!;

  beforeAll(async () => {
    // The tiny world's own first ranker may not pass validation, so the ranker serves a validated copy
    // from a registry of this test's own, next to copies of the world's learned models.
    const trained = await trainedTinyRanker();
    const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-sweep-reg-'));
    for (const model of ['two_tower', 'mf']) {
      const from = join(trained.worldDir, 'models', model);
      if (existsSync(from)) cpSync(from, join(registryDir, model), { recursive: true });
    }
    await registerRankerCopy(new ModelRegistry(registryDir), trained);
    const { mesh: config } = testMeshConfig(trained.worldDir, (rawConfig) => {
      rawConfig.registryDir = registryDir;
    });
    generatorNames = config.generators.map((g) => g.name);
    annHosts = (config.ann?.hosts ?? []).map((h) => `ann.${h.name}`);
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    operatorToken = operatorChannelOf(config).token!;
    const versions = await callUnary(track(connect(AnnSearchClient, addressOf(annHosts[0]))), 'getVersions', {}, T);
    const twoTower = versions.models.find((m) => m.model === 'two_tower')!;
    dim = twoTower.dim;
    version = twoTower.servingVersion;
  }, 300_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await mesh?.stop();
  });

  it('Blender.Blend', async () => {
    const blender = track(connect(BlenderClient, addressOf('blender')));
    const blend = (r: object) =>
      callUnary(blender, 'blend', { userId: 'u1', limit: 10, debug: false, requestId: '', ...r }, T);
    await expectRefused(blend({ userId: '' }), status.INVALID_ARGUMENT, /^user_id: /);
    await expectRefused(blend({ limit: -1 }), status.INVALID_ARGUMENT, /^limit: .*\(got -1\)/);
    await expectRefused(blend({ limit: 2_147_483_647 }), status.INVALID_ARGUMENT, /^limit: /);
    await expectRefused(
      blend({ requestId: 'r'.repeat(10_000) }),
      status.INVALID_ARGUMENT,
      /^request_id: must be at most/,
    );
    const path = '/feedloom.v1.Blender/Blend';
    const rawBlender = raw('blender');
    await expectRawRefused(
      rawBlender,
      path,
      w().tag(1, LEN).bytes(NOT_UTF8).tag(2, VARINT).int32(5).finish(),
      status.INVALID_ARGUMENT,
      /^user_id: must be valid UTF-8/,
    );
    await expectRawRefused(rawBlender, path, TRUNCATED, status.INVALID_ARGUMENT, /^request: is not a valid/);
    await expectRawRefused(rawBlender, path, OVERSIZED, status.RESOURCE_EXHAUSTED, /larger than max/);
  });

  it('Events.Log and Events.GetUserContext', async () => {
    const events = track(connect(EventsClient, addressOf('events'), { token: operatorToken }));
    const event = {
      userId: 'u1',
      itemId: 'i1',
      action: ActionType.ACTION_TYPE_CLICK,
      timeMs: 0,
      boardId: '',
      source: '',
      requestId: '',
    };
    await expectRefused(
      callUnary(events, 'log', { idempotencyKey: '', events: [] }, T),
      status.INVALID_ARGUMENT,
      /^events: /,
    );
    await expectRefused(
      callUnary(events, 'log', { idempotencyKey: '', events: Array.from({ length: 1001 }, () => event) }, T),
      status.INVALID_ARGUMENT,
      /^events: must hold at most/,
    );
    await expectRefused(
      callUnary(events, 'log', { idempotencyKey: '', events: [{ ...event, userId: '' }] }, T),
      status.INVALID_ARGUMENT,
      /^events\[0\]\.user_id: /,
    );
    await expectRefused(
      callUnary(events, 'log', { idempotencyKey: '', events: [{ ...event, timeMs: -5 }] }, T),
      status.INVALID_ARGUMENT,
      /^events\[0\]\.time_ms: /,
    );
    await expectRefused(
      callUnary(events, 'getUserContext', { userId: 'u1', maxActions: -1 }, T),
      status.INVALID_ARGUMENT,
      /^max_actions: /,
    );
    await expectRefused(
      callUnary(events, 'getUserContext', { userId: 'u1', maxActions: 2_000_000_000 }, T),
      status.INVALID_ARGUMENT,
      /^max_actions: /,
    );
    const rawEvents = raw('events');
    const log = '/feedloom.v1.Events/Log';
    const eventBytes = (action: number, userId: Uint8Array) =>
      w()
        .tag(1, LEN)
        .fork()
        .tag(1, LEN)
        .bytes(userId)
        .tag(2, LEN)
        .string('i1')
        .tag(3, VARINT)
        .int32(action)
        .join()
        .finish();
    await expectRawRefused(
      rawEvents,
      log,
      eventBytes(2, NOT_UTF8),
      status.INVALID_ARGUMENT,
      /^events\[0\]\.user_id: must be valid UTF-8/,
    );
    await expectRawRefused(
      rawEvents,
      log,
      eventBytes(42, new TextEncoder().encode('u1')),
      status.INVALID_ARGUMENT,
      /^events\[0\]\.action: must be one of .*\(got 42\)/,
    );
    await expectRawRefused(
      rawEvents,
      log,
      eventBytes(-7, new TextEncoder().encode('u1')),
      status.INVALID_ARGUMENT,
      /^events\[0\]\.action: .*\(got -7\)/,
    );
    // An int64 beyond what the service can hold as a number.
    const hugeTime = w()
      .tag(1, LEN)
      .fork()
      .tag(1, LEN)
      .string('u1')
      .tag(2, LEN)
      .string('i1')
      .tag(3, VARINT)
      .int32(2)
      .tag(4, VARINT)
      .int64('9223372036854775807')
      .join()
      .finish();
    await expectRawRefused(rawEvents, log, hugeTime, status.INVALID_ARGUMENT, /^request: .*MAX_SAFE_INTEGER/);
    await expectRawRefused(
      rawEvents,
      '/feedloom.v1.Events/GetUserContext',
      w().tag(1, LEN).bytes(NOT_UTF8).finish(),
      status.INVALID_ARGUMENT,
      /^user_id: must be valid UTF-8/,
    );
    await expectRawRefused(rawEvents, log, TRUNCATED, status.INVALID_ARGUMENT, /^request: is not a valid/);
    await expectRawRefused(rawEvents, log, OVERSIZED, status.RESOURCE_EXHAUSTED, /larger than max/);
  });

  it('CandidateGenerator.Generate and Describe, on every generator', async () => {
    const path = '/feedloom.v1.CandidateGenerator/Generate';
    for (const name of generatorNames) {
      const generator = track(connect(CandidateGeneratorClient, addressOf(`generator.${name}`)));
      const generate = (r: object) => callUnary(generator, 'generate', { user, quota: 10, requestId: '', ...r }, T);
      await expectRefused(generate({ quota: -1 }), status.INVALID_ARGUMENT, /^quota: .*\(got -1\)/);
      await expectRefused(generate({ quota: 2_000_000_000 }), status.INVALID_ARGUMENT, /^quota: /);
      await expectRefused(generate({ user: { ...user, userId: '' } }), status.INVALID_ARGUMENT, /^user\.user_id: /);
      await expectRefused(
        generate({ user: { ...user, seenItems: Array.from({ length: 2_001 }, (_, i) => `i${i}`) } }),
        status.INVALID_ARGUMENT,
        /^user\.seen_items: must hold at most/,
      );
      const rawGenerator = raw(`generator.${name}`);
      await expectRawRefused(
        rawGenerator,
        path,
        userWithBadId(1).tag(2, VARINT).int32(5).finish(),
        status.INVALID_ARGUMENT,
        /^user\.user_id: must be valid UTF-8/,
      );
      await expectRawRefused(
        rawGenerator,
        path,
        userWithUnknownAction(1).tag(2, VARINT).int32(5).finish(),
        status.INVALID_ARGUMENT,
        /^user\.recent_actions\[0\]\.type: .*\(got 42\)/,
      );
      await expectRawRefused(rawGenerator, path, TRUNCATED, status.INVALID_ARGUMENT, /^request: is not a valid/);
      await expectRawRefused(rawGenerator, path, OVERSIZED, status.RESOURCE_EXHAUSTED, /larger than max/);
      await expectRawRefused(
        rawGenerator,
        '/feedloom.v1.CandidateGenerator/Describe',
        TRUNCATED,
        status.INVALID_ARGUMENT,
        /^request: is not a valid/,
      );
      expect((await callUnary(generator, 'describe', {}, T)).name).toBe(name);
    }
  });

  it('ViewerModel.EmbedUser and ListVersions', async () => {
    const viewer = track(connect(ViewerModelClient, addressOf('viewer')));
    const embed = (r: object) => callUnary(viewer, 'embedUser', { user, model: 'two_tower', version, ...r }, T);
    await expectRefused(embed({ model: '' }), status.INVALID_ARGUMENT, /^model: /);
    await expectRefused(embed({ version: '' }), status.INVALID_ARGUMENT, /^version: /);
    await expectRefused(embed({ user: undefined }), status.INVALID_ARGUMENT, /^user: /);
    await expectRefused(embed({ version: 'v9999' }), status.FAILED_PRECONDITION, /version "v9999"/);
    await expectRefused(embed({ model: 'no_such_model' }), status.NOT_FOUND, /model "no_such_model"/);
    const rawViewer = raw('viewer');
    const path = '/feedloom.v1.ViewerModel/EmbedUser';
    await expectRawRefused(
      rawViewer,
      path,
      userWithBadId(1).tag(2, LEN).string('two_tower').tag(3, LEN).string(version).finish(),
      status.INVALID_ARGUMENT,
      /^user\.user_id: must be valid UTF-8/,
    );
    await expectRawRefused(
      rawViewer,
      path,
      userWithUnknownAction(1).tag(2, LEN).string('two_tower').tag(3, LEN).string(version).finish(),
      status.INVALID_ARGUMENT,
      /^user\.recent_actions\[0\]\.type: /,
    );
    await expectRawRefused(
      rawViewer,
      '/feedloom.v1.ViewerModel/ListVersions',
      w().tag(1, LEN).bytes(NOT_UTF8).finish(),
      status.INVALID_ARGUMENT,
      /^model: must be valid UTF-8/,
    );
    await expectRawRefused(rawViewer, path, TRUNCATED, status.INVALID_ARGUMENT, /^request: is not a valid/);
    await expectRawRefused(rawViewer, path, OVERSIZED, status.RESOURCE_EXHAUSTED, /larger than max/);
  });

  it('AnnSearch and AnnAdmin, on every ANN host', async () => {
    for (const host of annHosts) {
      const search = track(connect(AnnSearchClient, addressOf(host)));
      const admin = track(connect(AnnAdminClient, adminAddressOf(host), { token: operatorToken }));
      const rawAdmin = track(new Client(adminAddressOf(host), credentials.createInsecure()));
      const vector = Array.from({ length: dim }, (_, i) => (i === 0 ? 1 : 0));
      const query = (r: object) =>
        callUnary(
          search,
          'search',
          { model: 'two_tower', version, vector, k: 10, excludeItems: [], efSearch: 0, nprobe: 0, ...r },
          T,
        );
      await expectRefused(
        query({ vector: vector.slice(1) }),
        status.INVALID_ARGUMENT,
        new RegExp(`^vector: must have ${dim} values .*\\(got ${dim - 1}\\)`),
      );
      await expectRefused(query({ vector: [...vector, 0] }), status.INVALID_ARGUMENT, /^vector: must have/);
      await expectRefused(query({ vector: [] }), status.INVALID_ARGUMENT, /^vector: /);
      await expectRefused(
        query({ vector: [Number.NaN, ...vector.slice(1)] }),
        status.INVALID_ARGUMENT,
        /^vector\[0\]: must be a finite number/,
      );
      await expectRefused(query({ k: -1 }), status.INVALID_ARGUMENT, /^k: /);
      await expectRefused(query({ k: 2_000_000_000 }), status.INVALID_ARGUMENT, /^k: /);
      await expectRefused(query({ efSearch: -5 }), status.INVALID_ARGUMENT, /^ef_search: /);
      await expectRefused(query({ excludeItems: [''] }), status.INVALID_ARGUMENT, /^exclude_items\[0\]: /);
      await expectRefused(query({ version: 'v9999' }), status.FAILED_PRECONDITION, /v9999/);
      await expectRefused(query({ model: 'no_such_model' }), status.NOT_FOUND, /no_such_model/);
      await expectRefused(
        callUnary(
          search,
          'getItemVectors',
          { model: 'two_tower', version, itemIds: Array.from({ length: 1_001 }, (_, i) => `i${i}`) },
          T,
        ),
        status.INVALID_ARGUMENT,
        /^item_ids: must hold at most/,
      );
      const batch = (r: object) =>
        callUnary(
          search,
          'searchBatch',
          { model: 'two_tower', version, queries: [{ vector, k: 10 }], excludeItems: [], efSearch: 0, nprobe: 0, ...r },
          T,
        );
      await expectRefused(batch({ queries: [] }), status.INVALID_ARGUMENT, /^queries: /);
      await expectRefused(
        batch({
          queries: [
            { vector, k: 10 },
            { vector: vector.slice(1), k: 10 },
          ],
        }),
        status.INVALID_ARGUMENT,
        /^queries\[1\]\.vector: must have/,
      );
      await expectRefused(batch({ queries: [{ vector, k: -1 }] }), status.INVALID_ARGUMENT, /^queries\[0\]\.k: /);
      await expectRefused(
        batch({ queries: Array.from({ length: 65 }, () => ({ vector, k: 10 })) }),
        status.INVALID_ARGUMENT,
        /^queries: must hold at most/,
      );
      await expectRefused(batch({ excludeItems: [''] }), status.INVALID_ARGUMENT, /^exclude_items\[0\]: /);
      await expectRefused(batch({ version: 'v9999' }), status.FAILED_PRECONDITION, /v9999/);
      const rawSearch = raw(host);
      await expectRawRefused(
        rawSearch,
        '/feedloom.v1.AnnSearch/Search',
        w().tag(1, LEN).string('two_tower').tag(2, LEN).bytes(NOT_UTF8).finish(),
        status.INVALID_ARGUMENT,
        /^version: must be valid UTF-8/,
      );
      await expectRawRefused(
        rawSearch,
        '/feedloom.v1.AnnSearch/Search',
        TRUNCATED,
        status.INVALID_ARGUMENT,
        /^request: is not a valid/,
      );
      await expectRawRefused(
        rawSearch,
        '/feedloom.v1.AnnSearch/Search',
        OVERSIZED,
        status.RESOURCE_EXHAUSTED,
        /larger than max/,
      );

      const adminCall = (method: 'loadVersion' | 'serveVersion' | 'unloadVersion', r: object) =>
        callUnary(admin, method, { model: 'two_tower', version, ...r }, T);
      await expectRefused(adminCall('loadVersion', { model: '' }), status.INVALID_ARGUMENT, /^model: /);
      await expectRefused(adminCall('loadVersion', { version: 'v9999' }), status.NOT_FOUND, /v9999/);
      await expectRefused(adminCall('serveVersion', { version: 'v9999' }), status.FAILED_PRECONDITION, /v9999/);
      await expectRefused(
        adminCall('unloadVersion', {}),
        status.FAILED_PRECONDITION,
        new RegExp(`serves two_tower ${version}`),
      );
      await expectRawRefused(
        rawAdmin,
        '/feedloom.v1.AnnAdmin/LoadVersion',
        w().tag(1, LEN).bytes(NOT_UTF8).tag(2, LEN).string(version).finish(),
        status.INVALID_ARGUMENT,
        /^model: must be valid UTF-8/,
      );
      await expectRawRefused(
        rawAdmin,
        '/feedloom.v1.AnnAdmin/ServeVersion',
        TRUNCATED,
        status.INVALID_ARGUMENT,
        /^request: is not a valid/,
      );
      // Still answering a good query with the version it serves.
      expect((await query({})).neighbors.length).toBe(10);
    }
  });

  it('Ranker.Rank', async () => {
    const ranker = track(connect(RankerClient, addressOf('ranker')));
    const rank = (r: object) =>
      callUnary(
        ranker,
        'rank',
        { user, candidates: [{ itemId: 'i1', sources: [] }], requestId: '', modelVersion: '', ...r },
        T,
      );
    await expectRefused(rank({ user: undefined }), status.INVALID_ARGUMENT, /^user: /);
    await expectRefused(rank({ candidates: [] }), status.INVALID_ARGUMENT, /^candidates: must hold at least 1/);
    await expectRefused(
      rank({ candidates: Array.from({ length: 2_001 }, (_, i) => ({ itemId: `i${i}`, sources: [] })) }),
      status.INVALID_ARGUMENT,
      /^candidates: must hold at most/,
    );
    await expectRefused(
      rank({ candidates: [{ itemId: '', sources: [] }] }),
      status.INVALID_ARGUMENT,
      /^candidates\[0\]\.item_id: /,
    );
    await expectRefused(
      rank({ modelVersion: 'latest' }),
      status.INVALID_ARGUMENT,
      /^model_version: must be empty \(the serving version\) or a version name such as v0003 \(got "latest"\)/,
    );
    await expectRefused(
      rank({ candidates: [{ itemId: 'i1', sources: [{ generator: 'popular', rank: -1 }] }] }),
      status.INVALID_ARGUMENT,
      /^candidates\[0\]\.sources\[0\]\.rank: /,
    );
    const rawRanker = raw('ranker');
    const path = '/feedloom.v1.Ranker/Rank';
    await expectRawRefused(
      rawRanker,
      path,
      w()
        .tag(1, LEN)
        .fork()
        .tag(1, LEN)
        .string('u1')
        .join()
        .tag(2, LEN)
        .fork()
        .tag(1, LEN)
        .bytes(NOT_UTF8)
        .join()
        .finish(),
      status.INVALID_ARGUMENT,
      /^candidates\[0\]\.item_id: must be valid UTF-8/,
    );
    await expectRawRefused(
      rawRanker,
      path,
      userWithUnknownAction(1).tag(2, LEN).fork().tag(1, LEN).string('i1').join().finish(),
      status.INVALID_ARGUMENT,
      /^user\.recent_actions\[0\]\.type: /,
    );
    await expectRawRefused(rawRanker, path, TRUNCATED, status.INVALID_ARGUMENT, /^request: is not a valid/);
    await expectRawRefused(rawRanker, path, OVERSIZED, status.RESOURCE_EXHAUSTED, /larger than max/);
    expect((await rank({})).scores).toHaveLength(1);
  });

  it('leaves every server healthy', async () => {
    const servers = [...mesh.addresses.keys()].filter((name) => name !== 'admin');
    expect(servers.length).toBeGreaterThanOrEqual(generatorNames.length + 4);
    for (const name of servers) {
      const health = track(connect(HealthClient, addressOf(name)));
      const answer = await callUnary(health, 'check', { service: '' }, T);
      expect({ name, status: answer.status }).toEqual({ name, status: HealthCheckResponse_ServingStatus.SERVING });
    }
  });
});

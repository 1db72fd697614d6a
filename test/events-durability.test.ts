import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ActionType } from '../generated/feedloom/v1/common.js';
import { EventsClient, type Event } from '../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { openDuck, queryRows, sqlString } from '../libs/data/duck.js';
import { simulateWorld } from '../libs/data/simulator/index.js';
import { DAY_MS, worldPaths, type WorldManifest } from '../libs/data/world.js';
import { testAdminToken, testMeshConfig } from './fixtures/mesh.js';
import { natsMissing, startTestNats } from './fixtures/nats.js';

/** The Events service as a real child process, killed the hard way, restarted, and questioned. */

const MAIN = join(import.meta.dirname, '..', 'services', 'events', 'main.ts');

interface EventsProcess {
  child: ChildProcessWithoutNullStreams;
  address: string;
  client: EventsClient;
  stderr: string[];
}

/** A backend under test: the file log (no config), or JetStream (a mesh config naming a test nats-server). */
interface Backend {
  name: 'file' | 'jetstream';
  configPath?: string;
}

async function startProcess(worldDir: string, backend: Backend): Promise<EventsProcess> {
  const config = backend.configPath ? ['--config', backend.configPath] : [];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...config, '--world', worldDir, '--port', '0'], {
    cwd: join(import.meta.dirname, '..'),
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`events exited with ${code} before listening:\n${stderr.join('\n')}`)),
    );
  });
  const ready = JSON.parse(firstLine);
  expect(firstLine).toBe(JSON.stringify({ event: 'listening', service: 'events', address: ready.address }));
  expect(ready.address).toMatch(/^127\.0\.0\.1:\d+$/);
  // No config: the world's own admin token (<world>/run/admin-token), which GetUserContext needs.
  const token = backend.configPath
    ? testAdminToken()
    : (await readFile(join(worldDir, 'run', 'admin-token'), 'utf8')).trim();
  return { child, address: ready.address, client: connect(EventsClient, ready.address, { token }), stderr };
}

const exited = (child: ChildProcessWithoutNullStreams) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

const event = (e: Partial<Event> & Pick<Event, 'userId' | 'itemId' | 'action'>): Event => ({
  timeMs: 0,
  boardId: '',
  source: 'test',
  requestId: '',
  ...e,
});
const ACTIONS = [
  ActionType.ACTION_TYPE_IMPRESSION,
  ActionType.ACTION_TYPE_CLICK,
  ActionType.ACTION_TYPE_SAVE,
  ActionType.ACTION_TYPE_HIDE,
];

/** The simulated world each backend's tests get a copy of. */
let template: string;
/** The world of the backend under test. */
let world: string;
let manifest: WorldManifest;
let nats: Awaited<ReturnType<typeof startTestNats>> | undefined;
let users: string[];
const running: EventsProcess[] = [];

beforeAll(async () => {
  template = await mkdtemp(join(tmpdir(), 'events-durability-'));
  manifest = await simulateWorld({ preset: 'tiny', seed: 3, dir: template, log: () => {} });
  const duck = await openDuck();
  try {
    const rows = await queryRows<{ user_id: string }>(
      duck.conn,
      `SELECT user_id FROM read_parquet(${sqlString(worldPaths(template).table('users'))}) ORDER BY user_id LIMIT 8`,
    );
    users = rows.map((r) => r.user_id);
  } finally {
    duck.close();
  }
});

afterAll(async () => {
  for (const p of running) {
    p.client.close();
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  await rm(template, { recursive: true, force: true });
  await nats?.stop();
});

async function historyActionCount(userId: string): Promise<number> {
  const duck = await openDuck();
  try {
    const [row] = await queryRows<{ n: number }>(
      duck.conn,
      `SELECT count(*) AS n FROM read_parquet(${sqlString(join(world, 'events', 'day=*', '*.parquet'))})
      WHERE user_id = ${sqlString(userId)} AND action IN ('click', 'save', 'hide')`,
    );
    return row.n;
  } finally {
    duck.close();
  }
}

const BACKENDS: Backend[] = [{ name: 'file' }, { name: 'jetstream' }];

describe.each(BACKENDS)('events service durability on the $name backend', (backend) => {
  const skip = backend.name === 'jetstream' && natsMissing !== undefined;
  beforeAll(async () => {
    if (skip) return;
    world = await mkdtemp(join(tmpdir(), `events-durability-${backend.name}-`));
    await cp(template, world, { recursive: true });
    if (backend.name === 'jetstream') {
      nats ??= await startTestNats();
      const url = nats.url;
      backend.configPath = testMeshConfig(world, (raw) => {
        raw.services.events.backend = 'jetstream';
        raw.services.events.jetstream = { servers: [url], stream: 'DURABILITY' };
        // As the file backend's run without a config: every retained impression counts as seen.
        raw.services.events.seenWindowHours = 0;
      }).path;
    }
  });
  afterAll(async () => {
    if (!skip) await rm(world, { recursive: true, force: true });
  });

  it.skipIf(skip)(
    'keeps every acknowledged event through kill -9 (on files, also a torn last line), and the sequence continues',
    async () => {
      const first = await startProcess(world, backend);
      running.push(first);
      const worldEnd = manifest.startMs + manifest.days * DAY_MS;

      // 24 concurrent Log calls of 40 events each, over 8 real users, every action type.
      const batches = Array.from({ length: 24 }, (_, b) =>
        Array.from({ length: 40 }, (_, i) => {
          const action = ACTIONS[(b + i) % 4];
          return event({
            userId: users[(b + i) % users.length],
            itemId: `live-${b}-${i}`,
            action,
            boardId: action === ActionType.ACTION_TYPE_SAVE ? 'b1' : '',
            // Most are stamped by the server; some carry their own time inside the world's history.
            timeMs: i % 10 === 0 ? worldEnd - DAY_MS + b * 1000 + i : 0,
            requestId: `req-${b}`,
          });
        }),
      );
      const acks = await Promise.all(
        batches.map((events, b) =>
          callUnary(first.client, 'log', { idempotencyKey: `batch-${b}`, events }, { timeoutMs: 10_000 }),
        ),
      );
      first.child.kill('SIGKILL');
      expect(await exited(first.child)).toEqual({ code: null, signal: 'SIGKILL' });
      first.client.close();

      expect(acks.every((a) => a.accepted === 40)).toBe(true);
      const lastSeqs = acks.map((a) => a.lastSequence).sort((a, b) => a - b);
      expect(new Set(lastSeqs).size).toBe(24);
      expect(lastSeqs[23]).toBe(24 * 40);

      if (backend.name === 'file') {
        // A crash in the middle of a later write leaves a torn line behind; it was never acknowledged.
        const liveDays = await readdir(worldPaths(world).live);
        const dayDir = join(worldPaths(world).live, liveDays.sort().at(-1)!);
        const [file] = await readdir(dayDir);
        await appendFile(join(dayDir, file), '{"user_id":"u1","item_id":"torn","act');
      } else {
        // Nothing of it went to the world's files: the broker holds it.
        expect(await readdir(worldPaths(world).live).catch(() => [])).toEqual([]);
      }

      const second = await startProcess(world, backend);
      running.push(second);
      await vi.waitFor(() =>
        expect(second.stderr.join('\n')).toMatch(
          backend.name === 'file'
            ? /skipped torn line .*: unfinished last line/
            : new RegExp(`${24 * 40} live events \\(stream DURABILITY: ${24 * 40} messages`),
        ),
      );

      // A client that lost its answers in the crash retries every call: each is acknowledged again, as
      // before, and nothing is written twice (the context counts below would see doubles).
      const retried = await Promise.all(
        batches.map((events, b) =>
          callUnary(second.client, 'log', { idempotencyKey: `batch-${b}`, events }, { timeoutMs: 10_000 }),
        ),
      );
      expect(retried).toEqual(acks.map((a) => ({ ...a, duplicate: true })));

      for (const userId of users) {
        const ctx = await callUnary(
          second.client,
          'getUserContext',
          { userId, maxActions: 1000 },
          { timeoutMs: 5_000 },
        );
        const sent = batches.flat().filter((e) => e.userId === userId);
        const engaged = sent.filter((e) => e.action !== ActionType.ACTION_TYPE_IMPRESSION);
        const recent = new Map(ctx.recentActions.map((a) => [a.itemId, a]));
        for (const e of engaged) {
          expect(recent.get(e.itemId), `${userId} ${e.itemId}`).toMatchObject({ type: e.action, boardId: e.boardId });
        }
        for (const e of sent.filter((e) => e.action === ActionType.ACTION_TYPE_IMPRESSION))
          expect(ctx.seenItems).toContain(e.itemId);
        // The world's own history is still there beneath the live events.
        expect(ctx.recentActions).toHaveLength(engaged.length + (await historyActionCount(userId)));
        const times = ctx.recentActions.map((a) => a.timeMs);
        expect(times).toEqual([...times].sort((a, b) => b - a));
        expect(ctx.requestTimeMs).toBeGreaterThanOrEqual(Math.max(...times));
        expect(ctx.topics.length).toBeGreaterThan(0);
        expect(ctx.locale).not.toBe('');
      }

      const after = await callUnary(
        second.client,
        'log',
        {
          idempotencyKey: '',
          events: [event({ userId: users[0], itemId: 'after-restart', action: ActionType.ACTION_TYPE_CLICK })],
        },
        { timeoutMs: 5_000 },
      );
      expect(after).toEqual({ accepted: 1, lastSequence: 24 * 40 + 1, duplicate: false });

      second.child.kill('SIGTERM');
      expect(await exited(second.child)).toEqual({ code: 0, signal: null });
      second.client.close();
    },
  );

  it.skipIf(skip)(
    'answers malformed events with INVALID_ARGUMENT naming the field, writing none of the request',
    async () => {
      const p = await startProcess(world, backend);
      running.push(p);
      const userId = users[1];
      const bad = [
        event({ userId, itemId: 'ok-before-bad', action: ActionType.ACTION_TYPE_CLICK }),
        event({ userId, itemId: 'x', action: ActionType.ACTION_TYPE_CLICK }),
        event({ userId, itemId: 'x', action: ActionType.ACTION_TYPE_CLICK }),
        event({ userId, itemId: 'x', action: ActionType.ACTION_TYPE_UNSPECIFIED }),
      ];
      const rejected = (events: Event[]) =>
        callUnary(p.client, 'log', { idempotencyKey: '', events }, { timeoutMs: 5_000 }).then(
          () => expect.unreachable('the call should have failed'),
          (err: ServiceError) => {
            expect(err.code).toBe(status.INVALID_ARGUMENT);
            return err.details;
          },
        );
      expect(await rejected(bad)).toBe(
        'events[3].action: must be one of ACTION_TYPE_IMPRESSION, ACTION_TYPE_CLICK, ACTION_TYPE_SAVE, ACTION_TYPE_HIDE (got 0)',
      );
      expect(await rejected([event({ userId: '', itemId: 'i1', action: ActionType.ACTION_TYPE_CLICK })])).toBe(
        'events[0].user_id: is required and must not be empty',
      );
      expect(
        await rejected([event({ userId, itemId: 'i1', action: ActionType.ACTION_TYPE_CLICK, timeMs: -5 })]),
      ).toMatch(/^events\[0\]\.time_ms: /);
      expect(await rejected([])).toBe('events: must hold at least 1 item(s)');

      const ctx = await callUnary(p.client, 'getUserContext', { userId, maxActions: 1000 }, { timeoutMs: 5_000 });
      expect(ctx.recentActions.map((a) => a.itemId)).not.toContain('ok-before-bad');

      const stranger = await callUnary(
        p.client,
        'getUserContext',
        { userId: 'nobody-here', maxActions: 0 },
        { timeoutMs: 5_000 },
      );
      expect(stranger).toMatchObject({ userId: 'nobody-here', recentActions: [], seenItems: [], topics: [] });
      expect(stranger.requestTimeMs).toBeGreaterThanOrEqual(manifest.startMs + manifest.days * DAY_MS);
      await expect(
        callUnary(p.client, 'getUserContext', { userId, maxActions: 5000 }, { timeoutMs: 5_000 }),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: 'max_actions: must be an integer from 1 to 1000 (got 5000)',
      });
      p.child.kill('SIGTERM');
      expect(await exited(p.child)).toEqual({ code: 0, signal: null });
      p.client.close();
    },
  );
});

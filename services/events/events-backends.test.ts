import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { connect as natsConnect, headers } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ActionType } from '../../generated/feedloom/v1/common.js';
import { EventsClient, type Event } from '../../generated/feedloom/v1/events.js';
import { callUnary } from '../../libs/bootstrap/client.js';
import { JetStreamSchema, type JetStreamSettings } from '../../libs/config/mesh.js';
import { eventMessageId, eventSubject, partitionOf } from '../../libs/data/event-stream.js';
import { simulateWorld } from '../../libs/data/simulator/index.js';
import { dayKey } from '../../libs/data/world.js';
import { natsMissing, startTestNats } from '../../test/fixtures/nats.js';
import { click, withTestEvents } from '../../test/fixtures/events.js';
import { startEvents, type EventsOptions } from './events-service.js';

/** The events service's guarantees, run against each durable log backend (services.events.backend). */

const T = { timeoutMs: 5_000 };

let template: string;
beforeAll(async () => {
  template = await mkdtemp(join(tmpdir(), 'events-backends-'));
  await simulateWorld({ preset: 'tiny', seed: 11, dir: template, log: () => {} });
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

interface Backend {
  name: 'file' | 'jetstream';
  /** The options that select it; a fresh world (and stream) per test. */
  setUp(): Promise<{ options: Partial<EventsOptions>; worldDir: string; tearDown(): Promise<void> }>;
}

async function freshWorld(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'events-backend-world-'));
  await cp(template, dir, { recursive: true, filter: (src) => !src.endsWith('writer.lock') });
  return dir;
}

let nats: Awaited<ReturnType<typeof startTestNats>> | undefined;
let streams = 0;
const jetstreamSettings = (): JetStreamSettings =>
  JetStreamSchema.parse({ servers: [nats!.url], stream: `EVENTS_${++streams}`, subjectPrefix: `t${streams}.events` });

const BACKENDS: Backend[] = [
  {
    name: 'file',
    async setUp() {
      const worldDir = await freshWorld();
      return { options: {}, worldDir, tearDown: () => rm(worldDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'jetstream',
    async setUp() {
      nats ??= await startTestNats();
      const worldDir = await freshWorld();
      return {
        options: { backend: 'jetstream', jetstream: jetstreamSettings() },
        worldDir,
        tearDown: () => rm(worldDir, { recursive: true, force: true }),
      };
    },
  },
];
afterAll(async () => {
  await nats?.stop();
});

/** The events service on worldDir for one use; report gets its report lines. */
async function withEvents(
  worldDir: string,
  options: Partial<EventsOptions>,
  use: (client: EventsClient) => Promise<void>,
  report: (line: string) => void = () => {},
) {
  for (const line of await withTestEvents({ worldDir, ...options }, use)) report(line);
}

const itemsOf = async (client: EventsClient, userId: string, prefix: string) =>
  (await callUnary(client, 'getUserContext', { userId, maxActions: 1000 }, T)).recentActions
    .map((a) => a.itemId)
    .filter((id) => id.startsWith(prefix));

describe.each(BACKENDS)('events on the $name backend', (backend) => {
  const skip = backend.name === 'jetstream' && natsMissing !== undefined;

  it.skipIf(skip)('acknowledges a retried keyed Log once, also after a restart', async () => {
    const { options, worldDir, tearDown } = await backend.setUp();
    try {
      const events = [click('u7', 'retry-a'), click('u8', 'retry-b')];
      let first!: { accepted: number; lastSequence: number };
      await withEvents(worldDir, options, async (client) => {
        first = await callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T);
        expect(first).toMatchObject({ accepted: 2, duplicate: false });
        const retries = await Promise.all(
          [1, 2].map(() => callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T)),
        );
        for (const r of retries) expect(r).toEqual({ ...first, duplicate: true });
        await expect(
          callUnary(client, 'log', { events: [click('u7', 'other')], idempotencyKey: 'call-1' }, T),
        ).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
      });
      await withEvents(worldDir, options, async (client) => {
        expect(await callUnary(client, 'log', { events, idempotencyKey: 'call-1' }, T)).toEqual({
          ...first,
          duplicate: true,
        });
        expect(await itemsOf(client, 'u7', 'retry-')).toEqual(['retry-a']);
        expect(await itemsOf(client, 'u8', 'retry-')).toEqual(['retry-b']);
        // Without a key, the same events are new events.
        expect((await callUnary(client, 'log', { idempotencyKey: '', events }, T)).duplicate).toBe(false);
        expect(await itemsOf(client, 'u7', 'retry-')).toEqual(['retry-a', 'retry-a']);
      });
    } finally {
      await tearDown();
    }
  });

  it.skipIf(skip)('serves after a restart every event it acknowledged, with its clock resumed', async () => {
    const { options, worldDir, tearDown } = await backend.setUp();
    try {
      const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
      let clockBefore = 0;
      let lastSequence = 0;
      await withEvents(worldDir, options, async (client) => {
        // Read before the calls: the clock resumes from the newest call it took, not from any later read.
        clockBefore = (await callUnary(client, 'getUserContext', { userId: 'u0', maxActions: 1 }, T)).requestTimeMs;
        const acks = await Promise.all(
          users.map((u, i) => callUnary(client, 'log', { idempotencyKey: '', events: [click(u, `restart-${i}`)] }, T)),
        );
        lastSequence = Math.max(...acks.map((a) => a.lastSequence));
        expect(new Set(acks.map((a) => a.lastSequence)).size).toBe(users.length);
      });
      const lines: string[] = [];
      await withEvents(
        worldDir,
        options,
        async (client) => {
          for (const [i, u] of users.entries()) expect(await itemsOf(client, u, 'restart-')).toEqual([`restart-${i}`]);
          const now = (await callUnary(client, 'getUserContext', { userId: 'u0', maxActions: 1 }, T)).requestTimeMs;
          expect(now).toBeGreaterThanOrEqual(clockBefore);
          const next = await callUnary(client, 'log', { idempotencyKey: '', events: [click('u0', 'restart-x')] }, T);
          expect(next.lastSequence).toBe(lastSequence + 1);
        },
        (line) => lines.push(line),
      );
      expect(lines.join('\n')).toMatch(
        backend.name === 'jetstream' ? /12 live events \(stream EVENTS_\d+: 12 messages/ : /12 live events \(1 files/,
      );
    } finally {
      await tearDown();
    }
  });
});

describe.skipIf(natsMissing !== undefined)('events on JetStream: the broker', () => {
  it('publishes each event to its user partition and day, and dedupes a partly stored retried call by message id', async () => {
    nats ??= await startTestNats();
    const worldDir = await freshWorld();
    const settings = jetstreamSettings();
    const nc = await natsConnect({ servers: nats.url });
    try {
      // Creates the stream.
      await withEvents(worldDir, { backend: 'jetstream', jetstream: settings }, async () => {});
      // A first try of call "k" that stored only its first event before the broker failed.
      const js = jetstream(nc);
      const partly = click('u3', 'partly-0');
      const hdrs = headers();
      hdrs.set('Feedloom-Log-Size', '2');
      const day = dayKey(Date.now());
      const record = { user_id: 'u3', item_id: 'partly-0', action: 'click', time_ms: Date.now(), board_id: '' };
      await js.publish(
        eventSubject(settings.subjectPrefix, partitionOf('u3', settings.partitions), day),
        JSON.stringify({ ...record, source: '', request_id: '', log_key: 'k' }),
        { msgID: eventMessageId('k', 0), headers: hdrs },
      );
      const lines: string[] = [];
      await withEvents(
        worldDir,
        { backend: 'jetstream', jetstream: settings },
        async (client) => {
          // Not acknowledged, so not served; the retry is written (the key was never answered), and
          // the broker drops its first event's copy.
          expect(await itemsOf(client, 'u3', 'partly-')).toEqual([]);
          const ack = await callUnary(
            client,
            'log',
            { idempotencyKey: 'k', events: [partly, click('u3', 'partly-1')] },
            T,
          );
          expect(ack).toMatchObject({ accepted: 2, duplicate: false });
          // Each event once, in this process too.
          expect((await itemsOf(client, 'u3', 'partly-')).sort()).toEqual(['partly-0', 'partly-1']);
        },
        (line) => lines.push(line),
      );
      expect(lines.join('\n')).toMatch(/1 of the 2 events of the unacknowledged call "k"/);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(settings.stream, { subjects_filter: '>' });
      expect(info.state.messages).toBe(2);
      const subjects = Object.keys(info.state.subjects ?? {});
      expect(
        subjects.every((s) => s.startsWith(`${settings.subjectPrefix}.${partitionOf('u3', settings.partitions)}.`)),
      ).toBe(true);
      expect(subjects.length).toBeGreaterThan(0);
      // After another restart the call is whole: its key is remembered, and u3 has each event once.
      await withEvents(worldDir, { backend: 'jetstream', jetstream: settings }, async (client) => {
        const retry = await callUnary(
          client,
          'log',
          { idempotencyKey: 'k', events: [partly, click('u3', 'partly-1')] },
          T,
        );
        expect(retry.duplicate).toBe(true);
        expect((await itemsOf(client, 'u3', 'partly-')).sort()).toEqual(['partly-0', 'partly-1']);
      });
    } finally {
      await nc.close();
      await rm(worldDir, { recursive: true, force: true });
    }
  });

  it('answers Log UNAVAILABLE naming the broker while it is down, keeps serving contexts, and logs again once it is back', async () => {
    nats ??= await startTestNats();
    const worldDir = await freshWorld();
    const settings = { ...jetstreamSettings(), publishTimeoutMs: 1_000 };
    try {
      await withEvents(worldDir, { backend: 'jetstream', jetstream: settings }, async (client) => {
        await callUnary(client, 'log', { idempotencyKey: '', events: [click('u1', 'before-down')] }, T);
        await nats!.server().stop();
        const down = await callUnary(
          client,
          'log',
          { idempotencyKey: 'while-down', events: [click('u1', 'down')] },
          T,
        ).then(
          () => undefined,
          (err) => err,
        );
        expect(down).toMatchObject({ code: status.UNAVAILABLE, details: expect.stringContaining(nats!.url) });
        expect(await itemsOf(client, 'u1', 'before-down')).toEqual(['before-down']);
        await nats!.restart();
        // The client reconnects on its own; the same key is then written once.
        let back: unknown;
        for (let i = 0; i < 50 && !back; i++) {
          back = await callUnary(
            client,
            'log',
            { idempotencyKey: 'while-down', events: [click('u1', 'down')] },
            T,
          ).catch(() => new Promise((r) => setTimeout(() => r(undefined), 200)));
        }
        expect(back).toMatchObject({ accepted: 1 });
        expect(await itemsOf(client, 'u1', 'down')).toEqual(['down']);
      });
    } finally {
      await rm(worldDir, { recursive: true, force: true });
    }
  });

  it('loses no acknowledged event when the broker itself is killed -9 and restarted', async () => {
    nats ??= await startTestNats();
    const worldDir = await freshWorld();
    const options = { backend: 'jetstream' as const, jetstream: jetstreamSettings() };
    const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
    try {
      await withEvents(worldDir, options, async (client) => {
        const acks = await Promise.all(
          users.map((u, i) =>
            callUnary(
              client,
              'log',
              { idempotencyKey: `k${i}`, events: [click(u, `b-${i}-0`), click(u, `b-${i}-1`)] },
              T,
            ),
          ),
        );
        expect(acks.every((a) => a.accepted === 2)).toBe(true);
        nats!.server().child.kill('SIGKILL');
        await nats!.restart();
      });
      await withEvents(worldDir, options, async (client) => {
        for (const [i, u] of users.entries())
          expect((await itemsOf(client, u, 'b-')).sort()).toEqual([`b-${i}-0`, `b-${i}-1`]);
      });
    } finally {
      await rm(worldDir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a stream made with another partition count, naming the setting', async () => {
    nats ??= await startTestNats();
    const worldDir = await freshWorld();
    const settings = jetstreamSettings();
    try {
      await withEvents(worldDir, { backend: 'jetstream', jetstream: settings }, async () => {});
      await expect(
        startEvents({
          worldDir,
          port: 0,
          report: () => {},
          backend: 'jetstream',
          jetstream: { ...settings, partitions: 8 },
        }),
      ).rejects.toThrow(
        /^services\.events\.jetstream\.partitions: stream EVENTS_\d+ was made with "feedloom events, partitions=16", not 8 partitions/,
      );
    } finally {
      await rm(worldDir, { recursive: true, force: true });
    }
  });

  it('refuses to start, naming the broker, when it cannot be reached', async () => {
    const worldDir = await freshWorld();
    try {
      const settings = JetStreamSchema.parse({ servers: ['nats://127.0.0.1:1'] });
      await expect(
        startEvents({ worldDir, port: 0, report: () => {}, backend: 'jetstream', jetstream: settings }),
      ).rejects.toThrow(/the JetStream broker \(nats:\/\/127\.0\.0\.1:1, stream FEEDLOOM_EVENTS\) cannot be reached/);
    } finally {
      await rm(worldDir, { recursive: true, force: true });
    }
  });
});

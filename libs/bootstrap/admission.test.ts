import { status } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  CandidateGeneratorClient,
  CandidateGeneratorService,
  DescribeResponse,
  GenerateResponse,
} from '../../generated/feedloom/v1/generator.js';
import { AdmissionController, type Admitted } from './admission.js';
import { callUnary, connect } from './client.js';
import { RpcError } from './errors.js';
import { bindService, startServer } from './server.js';

const settings = { enabled: true, concurrency: 1, maxQueueMs: 1_000 };
const never = new AbortController().signal;

function admitted(result: Admitted | RpcError): Admitted {
  if (result instanceof RpcError) throw result;
  return result;
}

describe('AdmissionController', () => {
  it('queues first come first served behind the running calls, and hands each freed slot on', async () => {
    const controller = new AdmissionController('test', 'Call', { ...settings, concurrency: 2 }, 'admission.test');
    const taught = admitted(controller.admit(Infinity)); // a first call teaches it the service time
    await taught.started(never);
    taught.done(true);
    const running = [admitted(controller.admit(Infinity)), admitted(controller.admit(Infinity))];
    await Promise.all(running.map((r) => r.started(never)));
    const order: string[] = [];
    const third = admitted(controller.admit(Infinity));
    const fourth = admitted(controller.admit(Infinity));
    const waiting = [
      third.started(never).then(() => order.push('third')),
      fourth.started(never).then(() => order.push('fourth')),
    ];
    expect(controller.queued).toBe(2);
    running[0].done(true);
    await waiting[0];
    expect(order).toEqual(['third']);
    running[1].done(true);
    await waiting[1];
    expect(order).toEqual(['third', 'fourth']);
    third.done(true);
    fourth.done(true);
  });

  it('queues at most one round of calls, whatever their deadlines: a longer queue would add only latency', async () => {
    const controller = new AdmissionController('test', 'Call', { ...settings, concurrency: 2 }, 'admission.test');
    for (const known of [false, true]) {
      const running = [admitted(controller.admit(Infinity)), admitted(controller.admit(Infinity))];
      await Promise.all(running.map((r) => r.started(never)));
      const round = [admitted(controller.admit(Infinity)), admitted(controller.admit(Infinity))];
      expect(controller.queued).toBe(2);
      const refused = controller.admit(Infinity);
      expect(refused).toBeInstanceOf(RpcError);
      expect((refused as RpcError).message).toMatch(/2 Call calls running and 2 queued.*queue at most 2 calls/);
      // Once a slot frees, the queue moves up and one more may wait.
      running[0].done(known);
      await round[0].started(never);
      expect(controller.queued).toBe(1);
      const next = admitted(controller.admit(Infinity));
      for (const c of [running[1], ...round, next]) {
        await c.started(never);
        c.done(true);
      }
    }
  });

  it('queues up to maxQueued calls when the config raises it', async () => {
    const controller = new AdmissionController('test', 'Call', { ...settings, maxQueued: 3 }, 'admission.test');
    const calls = [0, 1, 2, 3].map(() => admitted(controller.admit(Infinity)));
    expect(controller.queued).toBe(3);
    expect(controller.admit(Infinity)).toBeInstanceOf(RpcError);
    for (const c of calls) {
      await c.started(never);
      c.done(true);
    }
  });

  it('refuses at arrival a call whose deadline comes before the calls ahead of it are done', async () => {
    const controller = new AdmissionController('test', 'Call', settings, 'admission.test');
    // One call of at least 20 ms teaches it the service time.
    const taught = admitted(controller.admit(Infinity));
    await taught.started(never);
    await sleep(20);
    taught.done(true);

    const running = admitted(controller.admit(Infinity));
    await running.started(never);
    // Behind the running call: at least 20 ms of wait and 20 ms of its own work, against 10 ms left.
    const refused = controller.admit(Date.now() + 10);
    expect(refused).toBeInstanceOf(RpcError);
    expect((refused as RpcError).code).toBe(status.UNAVAILABLE);
    expect((refused as RpcError).message).toMatch(
      /test overloaded: 1 Call calls running and 0 queued.*admission\.test/,
    );
    // A call with time to wait is admitted into the queue.
    const patient = admitted(controller.admit(Date.now() + 60_000));
    const started = patient.started(never);
    running.done(true);
    await started;
    patient.done(true);
  });

  it('leaves the queue when its call ends while waiting, and refuses nothing when off', async () => {
    const controller = new AdmissionController('test', 'Call', settings, 'admission.test');
    const running = admitted(controller.admit(Infinity));
    await running.started(never);
    const abort = new AbortController();
    const waiting = admitted(controller.admit(Infinity)).started(abort.signal);
    abort.abort(new RpcError(status.CANCELLED, 'gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(controller.queued).toBe(0);
    running.done(true);

    const off = new AdmissionController('test', 'Call', { ...settings, enabled: false }, 'admission.test');
    const calls = Array.from({ length: 50 }, () => admitted(off.admit(Date.now())));
    await Promise.all(calls.map((c) => c.started(never)));
  });
});

describe('refusal at the headers', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  const request = { user: UserContext.fromPartial({ userId: 'u1' }), quota: 1, requestId: '' };

  it('answers UNAVAILABLE before the request is read or decoded, and reads it again once there is room', async () => {
    const controller = new AdmissionController('headers', 'Generate', settings, 'admission.test');
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    let decoded = 0;
    // The service as generated, counting the requests the server decodes.
    const definition = {
      ...CandidateGeneratorService,
      generate: {
        ...CandidateGeneratorService.generate,
        requestDeserialize: (bytes: Buffer) => {
          decoded++;
          return CandidateGeneratorService.generate.requestDeserialize(bytes);
        },
      },
    };
    const server = await startServer({
      name: 'headers',
      port: 0,
      services: [
        bindService(definition, {
          generate: async () => {
            entered++;
            await held;
            return GenerateResponse.fromPartial({ generator: 'headers' });
          },
          describe: () => DescribeResponse.fromPartial({ name: 'headers' }),
        }),
      ],
      admission: { generate: controller },
    });
    const client = connect(CandidateGeneratorClient, server.address, { inProcess: false });
    cleanup.push(
      () => server.stop(100),
      () => client.close(),
    );
    const call = () =>
      callUnary(client, 'generate', request, { timeoutMs: 30_000 }).then(
        () => ({ code: status.OK, details: '' }),
        (err: { code: status; details: string }) => err,
      );

    // One call runs (held), one waits in the queue: the queue holds its one round.
    const first = call();
    while (entered < 1) await sleep(5);
    const second = call();
    while (controller.queued < 1) await sleep(5);
    expect(decoded).toBe(2);
    const refused = await call();
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.details).toMatch(/headers overloaded: 1 Generate calls running and 1 queued/);
    // Answered from its headers alone: its message was never decoded, its handler never ran.
    expect(decoded).toBe(2);
    expect(entered).toBe(1);

    release();
    expect((await first).code).toBe(status.OK);
    expect((await second).code).toBe(status.OK);
    expect((await call()).code).toBe(status.OK);
    expect(decoded).toBe(3);
  });
});

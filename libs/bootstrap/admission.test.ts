import { status } from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AdmissionController, type Admitted } from './admission.js';
import { RpcError } from './errors.js';

const settings = { enabled: true, concurrency: 1, maxQueueMs: 1_000 };
const never = new AbortController().signal;

function admitted(result: Admitted | RpcError): Admitted {
  if (result instanceof RpcError) throw result;
  return result;
}

describe('AdmissionController', () => {
  it('queues first come first served behind the running calls, and hands each freed slot on', async () => {
    const controller = new AdmissionController('test', 'Call', settings, 'admission.test');
    const taught = admitted(controller.admit(Infinity)); // a first call teaches it the service time
    await taught.started(never);
    taught.done(true);
    const first = admitted(controller.admit(Infinity));
    await first.started(never);
    const order: string[] = [];
    const second = admitted(controller.admit(Infinity));
    const third = admitted(controller.admit(Infinity));
    const waiting = [
      second.started(never).then(() => order.push('second')),
      third.started(never).then(() => order.push('third')),
    ];
    expect(controller.queued).toBe(2);
    first.done(true);
    await waiting[0];
    expect(order).toEqual(['second']);
    second.done(true);
    await waiting[1];
    expect(order).toEqual(['second', 'third']);
    third.done(true);
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

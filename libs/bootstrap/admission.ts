// Admission control, where the queue forms: a call is admitted only if it can finish within its
// deadline behind the calls already ahead of it, and refused at once (UNAVAILABLE, before any work)
// otherwise. Without it, a process offered more than it can serve works on every call at once,
// each slower by the others, until all of them are late together.
//
// Admitted calls run at most `concurrency` at a time; the others wait in a first-come queue, so a
// call's wait is predictable: a slot frees every serviceMs / concurrency on average (serviceMs: the
// recent time of one call once started). A call that finds every slot taken is refused when
//   - the queue is full: maxQueued calls, by default one round (`concurrency` calls), since a
//     longer queue adds only latency: the slots are never idle while one round waits (the queue is
//     bounded by what the slots serve, not by the callers' deadlines);
//   - or its predicted wait passes maxQueueMs (the server's own bound, in time);
//   - or its predicted finish passes its caller's deadline: 2 × event-loop delay (before its
//     handler ran, and before its answer is written) + its wait + serviceMs.
import { status } from '@grpc/grpc-js';
import type { ObservableResult } from '@opentelemetry/api';
import { RpcError } from './errors.js';
import { loopDelayMs } from './loop-delay.js';
import { meter } from './telemetry.js';

export interface AdmissionSettings {
  /** Off: every call is admitted at once and runs beside the others (shedding off). */
  enabled: boolean;
  /** Calls worked on at once; more wait in a first-come queue in front of them. */
  concurrency: number;
  /** Most calls in that queue; absent: `concurrency` (one round). */
  maxQueued?: number;
  /** Longest predicted wait in that queue before a call is refused, whatever its deadline. */
  maxQueueMs: number;
}

/** An admitted call, holding a slot or a place in the queue: it may start once `started` resolves, and must say when it is done. */
export interface Admitted {
  /** Resolves when a slot is free; rejects with the signal's reason if the call ends while queued. */
  started(signal: AbortSignal): Promise<void>;
  /** Frees the slot; `ok` calls teach the controller how long a call takes. */
  done(ok: boolean): void;
}

interface Waiter {
  resolve(): void;
}

/** How much each new measurement of the service time counts (an exponentially weighted mean). */
const SERVICE_WEIGHT = 0.2;

export class AdmissionController {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Recent time of one admitted call from its start to its answer (NaN until one has finished). */
  private serviceMs = Number.NaN;

  /**
   * @param server the server's name, for metrics and messages (e.g. "blender")
   * @param method the method it guards, e.g. "Blend"
   * @param configPath where its settings are in the mesh config, named in the refusal
   */
  constructor(
    readonly server: string,
    readonly method: string,
    readonly settings: AdmissionSettings,
    private readonly configPath: string,
  ) {}

  private get maxQueued(): number {
    return this.settings.maxQueued ?? this.settings.concurrency;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** The wait in the queue predicted for a call arriving now, in ms. */
  predictedWaitMs(): number {
    if (this.running < this.settings.concurrency) return 0;
    return ((this.queue.length + 1) * (this.serviceMs || 0)) / this.settings.concurrency;
  }

  /**
   * Decides at arrival: an Admitted, or the UNAVAILABLE error to answer at once. `deadline` is the
   * caller's, in epoch ms (Infinity when it set none).
   */
  admit(deadline: number): Admitted | RpcError {
    const refused = this.refusal(deadline);
    if (refused) return refused;
    counters().admitted.add(1, this.attributes);
    return this.settings.enabled ? this.slot() : this.unlimited();
  }

  /**
   * The UNAVAILABLE error for a call arriving now that must be refused (counted as refused), else
   * undefined and nothing changes: what the server asks before it reads the call's message.
   */
  refusal(deadline: number): RpcError | undefined {
    register(this);
    // A call that finds a slot free always runs: its own deadline governs it, and serviceMs is only a mean.
    if (!this.settings.enabled || this.running < this.settings.concurrency) return undefined;
    const known = Number.isFinite(this.serviceMs);
    const wait = this.predictedWaitMs();
    // The main thread's loop delay twice: once before the handler ran (the bytes waited in the
    // socket), once before the answer is written; neither shows on the handler's clock.
    const finish = 2 * loopDelayMs() + wait + (known ? this.serviceMs : 0);
    const remaining = deadline - Date.now();
    const full = this.queue.length >= this.maxQueued;
    const waitsTooLong = this.settings.maxQueueMs === 0 || (known && wait > this.settings.maxQueueMs);
    if (!full && !waitsTooLong && finish <= remaining) return undefined;
    counters().refused.add(1, this.attributes);
    return new RpcError(
      status.UNAVAILABLE,
      `${this.server} overloaded: ${this.running} ${this.method} calls running and ${this.queue.length} queued, ` +
        `predicted to finish in ${Math.round(finish)} ms against ${Number.isFinite(remaining) ? `${Math.round(remaining)} ms left of the deadline` : 'no deadline'}` +
        ` (queue at most ${this.maxQueued} calls and ${this.settings.maxQueueMs} ms, ${this.configPath}); retry on another replica or later`,
    );
  }

  /** Stops reporting this controller's gauges (its server stopped). */
  close(): void {
    live.delete(this);
  }

  private get attributes() {
    return { 'feedloom.server': this.server, 'rpc.method': this.method };
  }

  /** Takes a slot now, or a place at the back of the queue. */
  private slot(): Admitted {
    let state: 'queued' | 'running' | 'done' = 'queued';
    let startedAt = 0;
    let wake = () => {};
    const waiter: Waiter = {
      resolve: () => {
        state = 'running';
        this.running++;
        startedAt = performance.now();
        wake();
      },
    };
    const leaveQueue = () => {
      const at = this.queue.indexOf(waiter);
      if (at >= 0) this.queue.splice(at, 1);
      state = 'done';
    };
    if (this.running < this.settings.concurrency) waiter.resolve();
    else this.queue.push(waiter);
    return {
      started: (signal) => {
        if (state === 'running') return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const onAbort = () => {
            leaveQueue();
            reject(signal.reason);
          };
          if (state === 'done' || signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          wake = () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          };
        });
      },
      done: (ok) => {
        if (state !== 'running') return leaveQueue();
        state = 'done';
        this.running--;
        if (ok) {
          const ms = performance.now() - startedAt;
          this.serviceMs = Number.isFinite(this.serviceMs)
            ? this.serviceMs + SERVICE_WEIGHT * (ms - this.serviceMs)
            : ms;
        }
        // Hand the slot to the longest-waiting call.
        if (this.running < this.settings.concurrency) this.queue.shift()?.resolve();
      },
    };
  }

  private unlimited(): Admitted {
    return { started: () => Promise.resolve(), done: () => {} };
  }

  /** For the gauges. */
  observe(): { running: number; queued: number; predictedWaitMs: number; serviceMs: number; limit: number } {
    return {
      running: this.running,
      queued: this.queue.length,
      predictedWaitMs: this.predictedWaitMs(),
      serviceMs: this.serviceMs,
      limit: this.settings.enabled ? this.settings.concurrency : Number.POSITIVE_INFINITY,
    };
  }
}

// Metrics, made on first use (after the telemetry has started), like the blender's.

const live = new Set<AdmissionController>();

const makeCounters = () => ({
  admitted: meter().createCounter('feedloom.admission.admitted', {
    description: 'Calls admitted by the admission controller (they ran, or waited in its queue first)',
  }),
  refused: meter().createCounter('feedloom.admission.refused', {
    description: 'Calls refused at arrival with UNAVAILABLE: predicted to miss their deadline, or to queue too long',
  }),
});
let made: ReturnType<typeof makeCounters> | undefined;
const counters = () => (made ??= makeCounters());

let gauges = false;
function register(controller: AdmissionController): void {
  if (live.has(controller)) return;
  live.add(controller);
  if (gauges) return;
  gauges = true;
  const each = (value: (o: ReturnType<AdmissionController['observe']>) => number) => (result: ObservableResult) => {
    for (const c of live) {
      const v = value(c.observe());
      if (Number.isFinite(v)) result.observe(v, { 'feedloom.server': c.server, 'rpc.method': c.method });
    }
  };
  const m = meter();
  m.createObservableGauge('feedloom.admission.limit', {
    description: 'Calls the admission controller lets run at once (absent when it is off)',
  }).addCallback(each((o) => o.limit));
  m.createObservableGauge('feedloom.admission.running', { description: 'Admitted calls running now' }).addCallback(
    each((o) => o.running),
  );
  m.createObservableGauge('feedloom.admission.queued', {
    description: 'Admitted calls waiting for a slot now',
  }).addCallback(each((o) => o.queued));
  m.createObservableGauge('feedloom.admission.predicted_wait', {
    unit: 'ms',
    description: 'The queue wait predicted for a call arriving now',
  }).addCallback(each((o) => o.predictedWaitMs));
  m.createObservableGauge('feedloom.admission.service_time', {
    unit: 'ms',
    description: 'Recent time of one admitted call once started (exponentially weighted)',
  }).addCallback(each((o) => o.serviceMs));
  m.createObservableGauge('feedloom.process.event_loop_delay', {
    unit: 'ms',
    description: "The main thread's recent mean event-loop delay",
  }).addCallback((result) => result.observe(loopDelayMs()));
}

// A pool of worker threads that answer Generate calls for the generators of an all-in-one process,
// so their CPU runs beside the main thread (gRPC, the blender, protobuf) instead of on it. The gRPC
// servers stay on the main thread: ports, reflection, health, deadlines, metrics and traces do not
// change. Each worker loads the generators it serves and reloads their snapshots itself; a worker
// that dies fails only the calls it had (the Blend degrades) and is replaced.
import { Worker } from 'node:worker_threads';
import { EncodedGenerateResponse } from './encoded-messages.js';
import { PendingCalls } from './pending-calls.js';
import { RpcError, unavailable } from '../bootstrap/errors.js';
import type { DataStatus, FromWorker, PooledGenerator, ToWorker, WorkerData } from './worker-protocol.js';

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

interface Pending {
  resolve(response: EncodedGenerateResponse): void;
  reject(err: Error): void;
}

interface PoolWorker {
  worker: Worker;
  pending: PendingCalls<Pending>;
  status: Map<string, DataStatus>;
}

export interface GenerateCall {
  /** The GenerateRequest's bytes, in a buffer of their own (transferred to the worker). */
  request: Uint8Array;
  requestId: string;
  deadline: number;
}

export class GeneratorWorkerPool {
  private readonly workers = new Set<PoolWorker>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private nextId = 1;
  private stopping = false;
  /** Workers that exited unasked and were replaced (for tests and the status page). */
  replaced = 0;

  constructor(
    readonly threads: number,
    private readonly generators: PooledGenerator[],
  ) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`worker threads: must be an integer >= 1 (got ${threads})`);
  }

  /** Starts the threads; each loads its generators' snapshots and reports when they are ready. */
  start(): void {
    for (let i = 0; i < this.threads; i++) this.spawn();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.workers].map((w) => w.worker.terminate()));
  }

  /** Fault injection for tests: ends one worker thread at once, as a crash would. */
  async terminateOne(): Promise<void> {
    const [first] = this.workers;
    if (first) await first.worker.terminate();
  }

  serves(name: string): boolean {
    return this.generators.some((g) => g.name === name);
  }

  /** A generator's data as the pool has it: ready when any worker can answer for it. */
  status(name: string): DataStatus | undefined {
    let last: DataStatus | undefined;
    for (const w of this.workers) {
      const s = w.status.get(name);
      if (s?.ready) return s;
      last = s ?? last;
    }
    return last;
  }

  /** Calls fn whenever a generator's status may have changed (a worker loaded, reloaded or died). */
  onStatus(name: string, fn: () => void): () => void {
    const set = this.listeners.get(name) ?? this.listeners.set(name, new Set()).get(name)!;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Answers one call on the least busy worker that has the generator's data. */
  generate(name: string, call: GenerateCall, signal: AbortSignal): Promise<EncodedGenerateResponse> {
    let best: PoolWorker | undefined;
    for (const w of this.workers)
      if (w.status.get(name)?.ready && (!best || w.pending.size < best.pending.size)) best = w;
    if (!best) return Promise.reject(unavailable(`generator ${name}: no worker thread has its data loaded`));
    const worker = best;
    const id = this.nextId++;
    return new Promise<EncodedGenerateResponse>((resolve, reject) => {
      const onAbort = () => {
        worker.pending.delete(id);
        reject(signal.reason instanceof Error ? signal.reason : new Error('call aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      worker.pending.set(id, {
        resolve: (r) => (done(), resolve(r)),
        reject: (e) => (done(), reject(e)),
      });
      const message: ToWorker = { type: 'generate', id, name, ...call };
      worker.worker.postMessage(message, [call.request.buffer as ArrayBuffer]);
    });
  }

  private spawn(): void {
    const data: WorkerData = { generators: this.generators };
    const w: PoolWorker = {
      worker: new Worker(ENTRY, { workerData: data }),
      pending: new PendingCalls<Pending>(),
      status: new Map(),
    };
    this.workers.add(w);
    w.worker.on('message', (message: FromWorker) => this.receive(w, message));
    w.worker.on('error', (err) => console.error(`[generator pool] a worker thread failed: ${err.message}`));
    w.worker.on('exit', (code) => {
      this.workers.delete(w);
      for (const p of w.pending.drain())
        p.reject(unavailable(`the generator worker thread answering it exited (code ${code})`));
      this.notify(this.generators.map((g) => g.name));
      if (this.stopping) return;
      this.replaced++;
      console.error(`[generator pool] a worker thread exited (code ${code}); starting a new one`);
      this.spawn();
    });
  }

  private receive(w: PoolWorker, message: FromWorker): void {
    if (message.type === 'status') {
      w.status.set(message.name, message.status);
      return this.notify([message.name]);
    }
    const pending = w.pending.get(message.id);
    if (!pending) return; // its caller gave up
    w.pending.delete(message.id);
    if (message.type === 'answer')
      pending.resolve(new EncodedGenerateResponse(message.bytes, message.candidateCount, message.modelVersion));
    else pending.reject(new RpcError(message.code, message.message));
  }

  private notify(names: string[]): void {
    for (const name of names) for (const fn of this.listeners.get(name) ?? []) fn();
  }
}

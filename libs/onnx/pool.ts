import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { ownBuffers, type Feeds, type TensorData } from './tensors.js';

/**
 * An onnxruntime-node session pool in worker threads. `session.run` blocks the thread it runs on
 * for the whole inference, so every session lives in its own worker: the JS thread of a server
 * only posts typed arrays (moved, not copied) and awaits the outputs.
 */

export interface OnnxPoolOptions {
  /** Worker threads, each holding its own session of the model (default 2). */
  workers?: number;
  /** onnxruntime intra-op threads per session (default 1: the workers are the parallelism). */
  intraOpThreads?: number;
  /** Runs allowed to wait for a free worker; more are refused at once (default 1000). */
  maxQueue?: number;
  /** For error messages, e.g. "two_tower v0003 user tower". */
  name?: string;
}

/** The model could not be loaded: missing, empty, truncated, corrupt or not an ONNX model. */
export class OnnxLoadError extends Error {
  constructor(
    readonly modelPath: string,
    reason: string,
  ) {
    super(`cannot load ONNX model ${modelPath}: ${reason}`);
    this.name = 'OnnxLoadError';
  }
}

/** A run failed (bad feeds, the model's own error) or could not be queued. */
export class OnnxRunError extends Error {
  constructor(
    message: string,
    readonly overloaded = false,
  ) {
    super(message);
    this.name = 'OnnxRunError';
  }
}

export type Outputs = Record<string, TensorData>;

interface Job {
  feeds: Feeds;
  resolve(outputs: Outputs): void;
  reject(err: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  alive: boolean;
}

type WorkerMessage =
  | { type: 'ready'; inputNames: string[]; outputNames: string[] }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Outputs }
  | { type: 'run-error'; id: number; message: string };

const WORKER_URL = new URL('./session-worker.mjs', import.meta.url);

export class OnnxSessionPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  private nextId = 1;
  private runs = 0;
  private replacing = 0;

  private constructor(
    readonly modelPath: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    private readonly options: Required<OnnxPoolOptions>,
  ) {}

  /** Loads the model in every worker; rejects with OnnxLoadError (and leaves no worker behind) if any fails. */
  static async open(modelPath: string, options: OnnxPoolOptions = {}): Promise<OnnxSessionPool> {
    const resolved: Required<OnnxPoolOptions> = {
      workers: Math.max(1, Math.floor(options.workers ?? 2)),
      intraOpThreads: Math.max(1, Math.floor(options.intraOpThreads ?? 1)),
      maxQueue: Math.max(0, Math.floor(options.maxQueue ?? 1000)),
      name: options.name ?? modelPath,
    };
    let size: number;
    try {
      size = (await stat(modelPath)).size;
    } catch (err) {
      throw new OnnxLoadError(
        modelPath,
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (err as Error).message,
      );
    }
    if (size === 0) throw new OnnxLoadError(modelPath, 'the file is empty (0 bytes)');

    const started = await Promise.allSettled(
      Array.from({ length: resolved.workers }, () => spawnSession(modelPath, resolved.intraOpThreads)),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      throw failed.reason instanceof OnnxLoadError
        ? failed.reason
        : new OnnxLoadError(modelPath, String((failed.reason as Error)?.message ?? failed.reason));
    }
    const ready = started.map((s) => (s as PromiseFulfilledResult<Spawned>).value);
    const pool = new OnnxSessionPool(modelPath, ready[0].inputNames, ready[0].outputNames, resolved);
    for (const { worker } of ready) pool.adopt(worker);
    return pool;
  }

  /** Runs one batch on the next free worker. The feeds' buffers are moved to the worker (views are copied first). */
  run(feeds: Feeds, options: { signal?: AbortSignal } = {}): Promise<Outputs> {
    if (this.closed) return Promise.reject(new OnnxRunError(`onnx pool for ${this.options.name} is closed`));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason ?? new Error('aborted'));
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length)
      return Promise.reject(
        new OnnxRunError(
          `${this.options.name}: missing input(s) ${missing.join(', ')}; the model takes ${this.inputNames.join(', ')}`,
        ),
      );
    if (!this.slots.some((s) => s.alive) && this.replacing === 0)
      return Promise.reject(new OnnxRunError(`${this.options.name}: no live onnx worker`));
    if (this.queue.length >= this.options.maxQueue && !this.slots.some((s) => s.alive && !s.job)) {
      return Promise.reject(
        new OnnxRunError(`${this.options.name}: ${this.queue.length} runs already waiting for a worker`, true),
      );
    }
    return new Promise<Outputs>((resolve, reject) => {
      const job: Job = { feeds, resolve, reject, signal: options.signal };
      if (options.signal) {
        job.onAbort = () => {
          const at = this.queue.indexOf(job);
          if (at >= 0) this.queue.splice(at, 1);
          // A running job cannot be stopped; its answer is dropped when it arrives.
          reject(options.signal!.reason ?? new Error('aborted'));
        };
        options.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  get stats(): { workers: number; busy: number; queued: number; runs: number } {
    return {
      workers: this.slots.filter((s) => s.alive).length,
      busy: this.slots.filter((s) => s.job).length,
      queued: this.queue.length,
      runs: this.runs,
    };
  }

  /** Rejects queued runs, lets nothing new in, and terminates the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0))
      settle(job, () => job.reject(new OnnxRunError(`onnx pool for ${this.options.name} closed`)));
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.alive = false;
        if (slot.job)
          settle(slot.job, () =>
            slot.job!.reject(new OnnxRunError(`onnx pool for ${this.options.name} closed during a run`)),
          );
        await slot.worker.terminate();
      }),
    );
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, alive: true };
    this.slots.push(slot);
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type !== 'result' && msg.type !== 'run-error') return;
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        this.runs++;
        if (msg.type === 'result') settle(job, () => job.resolve(msg.outputs));
        else settle(job, () => job.reject(new OnnxRunError(`${this.options.name}: ${msg.message}`)));
      }
      this.dispatch();
    });
    const lost = (reason: string) => {
      if (!slot.alive) return;
      slot.alive = false;
      const job = slot.job;
      slot.job = undefined;
      if (job) settle(job, () => job.reject(new OnnxRunError(`${this.options.name}: onnx worker ${reason}`)));
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (!this.closed) void this.replace();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
  }

  /** A worker died: start another so the pool keeps its size; queued runs wait for it. */
  private async replace(): Promise<void> {
    this.replacing++;
    try {
      const { worker } = await spawnSession(this.modelPath, this.options.intraOpThreads);
      if (this.closed) {
        await worker.terminate();
        return;
      }
      this.adopt(worker);
      this.dispatch();
    } catch (err) {
      console.error(`[onnx] cannot replace a lost worker for ${this.options.name}: ${(err as Error).message}`);
    } finally {
      this.replacing--;
    }
    if (!this.slots.some((s) => s.alive) && this.replacing === 0) {
      for (const job of this.queue.splice(0))
        settle(job, () => job.reject(new OnnxRunError(`${this.options.name}: no live onnx worker`)));
    }
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.alive || slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      try {
        const { tensors, transfer } = ownBuffers(job.feeds);
        slot.worker.postMessage({ type: 'run', id: this.nextId++, feeds: tensors }, transfer);
      } catch (err) {
        slot.job = undefined;
        settle(job, () =>
          job.reject(
            new OnnxRunError(`${this.options.name}: cannot send the feeds to a worker: ${(err as Error).message}`),
          ),
        );
      }
    }
  }
}

function settle(job: Job, fn: () => void): void {
  if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
  if (job.signal?.aborted) return; // already rejected by the abort
  fn();
}

interface Spawned {
  worker: Worker;
  inputNames: string[];
  outputNames: string[];
}

function spawnSession(modelPath: string, intraOpThreads: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    // No loader flags (tsx, vitest): the worker is plain JavaScript.
    const worker = new Worker(WORKER_URL, { workerData: { modelPath, intraOpThreads }, execArgv: [] });
    const fail = (reason: string) => {
      cleanup();
      void worker.terminate();
      reject(new OnnxLoadError(modelPath, reason));
    };
    const onMessage = (msg: WorkerMessage) => {
      if (msg.type === 'ready') {
        cleanup();
        resolve({ worker, inputNames: msg.inputNames, outputNames: msg.outputNames });
      } else if (msg.type === 'load-error') fail(msg.message);
    };
    const onError = (err: Error) => fail(`the onnx worker failed: ${err.message}`);
    const onExit = (code: number) => fail(`the onnx worker exited with code ${code} while loading`);
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

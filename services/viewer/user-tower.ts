import path from 'node:path';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import {
  encodeUserBatch,
  USER_OUTPUT,
  USER_TOWER_FILE,
  userInputDims,
  type TwoTowerManifest,
} from '../../libs/features/two-tower.js';
import { OnnxSessionPool } from '../../libs/onnx/pool.js';
import { tensor, type Feeds } from '../../libs/onnx/tensors.js';
import { resourceExhausted } from '../../libs/bootstrap/errors.js';

/**
 * One loaded user tower: an onnx worker pool plus adaptive batching. Requests that arrive while
 * every worker is busy wait and go together in the next run, so batches grow with load and a
 * lone request is never held back.
 */
export class UserTower {
  private pending: {
    user: UserContext;
    signal?: AbortSignal;
    resolve(v: Float32Array): void;
    reject(e: Error): void;
  }[] = [];
  /** Users embedded so far (requests run; refused or dropped ones are not). */
  embedded = 0;
  private running = 0;
  private inUse = 0;
  private retired = false;
  private closed: Promise<void> | undefined;
  readonly loadedAtMs = Date.now();

  private constructor(
    readonly manifest: TwoTowerManifest,
    private readonly pool: OnnxSessionPool,
    private readonly workers: number,
    private readonly maxBatch: number,
    private readonly maxPending: number,
  ) {}

  static async load(
    dir: string,
    manifest: TwoTowerManifest,
    options: { workers?: number; maxBatch?: number; maxPending?: number } = {},
  ): Promise<UserTower> {
    const workers = options.workers ?? 2;
    const pool = await OnnxSessionPool.open(path.join(dir, USER_TOWER_FILE), {
      workers,
      name: `${manifest.model}/${manifest.version} user tower`,
    });
    const output = manifest.onnx?.userOutput ?? USER_OUTPUT;
    if (!pool.outputNames.includes(output)) {
      await pool.close();
      throw new Error(
        `${path.join(dir, USER_TOWER_FILE)} has no output "${output}" (it has ${pool.outputNames.join(', ')})`,
      );
    }
    return new UserTower(manifest, pool, workers, options.maxBatch ?? 64, options.maxPending ?? 1024);
  }

  get model(): string {
    return this.manifest.model;
  }

  get version(): string {
    return this.manifest.version;
  }

  get dim(): number {
    return this.manifest.dim;
  }

  /**
   * The user's embedding (L2-normalized by the model), from this exact version. Refused with
   * RESOURCE_EXHAUSTED when maxPending requests wait already; dropped, not run, once `signal`
   * aborts (the caller cancelled or its deadline passed).
   */
  embed(user: UserContext, signal?: AbortSignal): Promise<Float32Array> {
    if (this.retired) return Promise.reject(new Error(`${this.model} ${this.version} was unloaded`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.pending.length >= this.maxPending) {
      return Promise.reject(
        resourceExhausted(
          `the ${this.model} ${this.version} user tower has ${this.pending.length} requests waiting, the most it queues (services.viewer.maxPendingEmbeds); retry later`,
        ),
      );
    }
    this.inUse++;
    let onAbort = () => {};
    return new Promise<Float32Array>((resolve, reject) => {
      const entry = { user, signal, resolve, reject };
      onAbort = () => {
        const at = this.pending.indexOf(entry);
        if (at < 0) return; // already running: its answer is simply not used
        this.pending.splice(at, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.push(entry);
      this.flush();
    }).finally(() => {
      signal?.removeEventListener('abort', onAbort);
      this.inUse--;
      if (this.retired && this.inUse === 0) void this.close();
    });
  }

  /** Stops taking requests; the workers stop once requests in flight are answered. */
  retire(): void {
    this.retired = true;
    if (this.inUse === 0) void this.close();
  }

  close(): Promise<void> {
    this.retired = true;
    this.closed ??= this.pool.close();
    return this.closed;
  }

  private flush(): void {
    while (this.pending.length && this.running < this.workers) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.flush();
      });
    }
  }

  private async runBatch(batch: UserTower['pending']): Promise<void> {
    try {
      const encoded = encodeUserBatch(
        batch.map((b) => b.user),
        this.manifest,
      );
      const dims = userInputDims(this.manifest, batch.length);
      const feeds: Feeds = {};
      for (const name of Object.keys(dims) as (keyof typeof dims)[]) feeds[name] = tensor(encoded[name], dims[name]);
      this.embedded += batch.length;
      const out = (await this.pool.run(feeds))[this.manifest.onnx?.userOutput ?? USER_OUTPUT];
      if (!out || out.dims[0] !== batch.length || out.dims[1] !== this.dim) {
        throw new Error(
          `${this.model} ${this.version} user tower returned shape [${out?.dims.join(', ')}], expected [${batch.length}, ${this.dim}]`,
        );
      }
      const data = out.data as Float32Array;
      batch.forEach((b, i) => b.resolve(data.slice(i * this.dim, (i + 1) * this.dim)));
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
    }
  }
}

// Keeps the serving ranker model current: finds the newest version in the registry that is
// published or serving, verifies and checks it (model-checks.ts), and only then swaps it in. A
// version that fails is refused (remembered with its reason) and whatever served before keeps
// serving; the replaced model is closed once the calls using it have finished. Versions the mesh
// config's experiments ask for are held beside it, loaded and checked the same way.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OnnxSessionPool } from '../../libs/onnx/pool.js';
import {
  ModelRegistry,
  STATE_FILE,
  verifyArtifacts,
  versionNumber,
  type ModelState,
  type VersionInfo,
} from '../../libs/registry/index.js';
import type { RankerManifest } from '../../libs/ranking/encoding.js';
import { checkManifest, checkProbe, checkServingProbe, checkSignature } from './model-checks.js';

/** States whose versions the ranker may serve (a rollback moves the newer one to rolled_back). */
export const SERVABLE_STATES: readonly ModelState[] = ['published', 'serving'];
/** States an experiment may ask for: validated (not yet published) too, and retired (an older one). */
export const EXPERIMENT_STATES: readonly ModelState[] = ['validated', 'published', 'serving', 'retired'];

export interface LoadedRanker {
  version: string;
  manifest: RankerManifest;
  pool: OnnxSessionPool;
  loadedAtMs: number;
  /** Calls running on it; a replaced model closes when this reaches 0. */
  inflight: number;
}

export interface RefusedVersion {
  version: string;
  reason: string;
  atMs: number;
}

export interface ModelStoreOptions {
  /** onnx worker threads per loaded model (default 2). */
  workers?: number;
  intraOpThreads?: number;
  /** A refused version is tried again after this long (a load can fail for passing reasons); default 10 min. */
  retryRefusedMs?: number;
  log?: (line: string) => void;
  /** Versions held beside the serving one for the experiments' variants (rankerVersionsOf). */
  experimentVersions?: readonly string[];
}

export class RankerModelStore {
  private loaded: LoadedRanker | undefined;
  /** Experiment versions other than the serving one, loaded. */
  private readonly held = new Map<string, LoadedRanker>();
  private readonly refusedVersions = new Map<string, RefusedVersion>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(
    readonly registry: ModelRegistry,
    readonly model: string,
    private readonly options: ModelStoreOptions = {},
    private readonly onChange: (loaded: LoadedRanker | undefined) => void = () => {},
  ) {
    this.log = options.log ?? ((line) => console.error(`[ranker] ${line}`));
  }

  get current(): LoadedRanker | undefined {
    return this.loaded;
  }

  get refused(): RefusedVersion[] {
    return [...this.refusedVersions.values()].sort((a, b) => a.atMs - b.atMs);
  }

  /** Loads now, then looks for a newer (or rolled-back-to) version every pollMs. */
  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), pollMs);
    this.timer.unref();
  }

  /** Brings the served version in line with the registry; concurrent calls share one pass. */
  refresh(): Promise<void> {
    this.refreshing ??= this.reconcile().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** The experiment versions it holds, serving or beside the serving one. */
  get experimentVersions(): string[] {
    return (this.options.experimentVersions ?? []).filter((v) => v === this.loaded?.version || this.held.has(v));
  }

  /**
   * Runs fn on the current model (or on `version`, the serving one or one held for an experiment),
   * keeping it open until fn settles even if a new version swaps in; undefined when there is none.
   */
  async use<T>(fn: (model: LoadedRanker) => Promise<T>, version?: string): Promise<T | undefined> {
    const model = !version || version === this.loaded?.version ? this.loaded : this.held.get(version);
    if (!model) return undefined;
    model.inflight++;
    try {
      return await fn(model);
    } finally {
      model.inflight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
    const model = this.loaded;
    this.loaded = undefined;
    await model?.pool.close();
    for (const held of this.held.values()) await held.pool.close();
    this.held.clear();
  }

  private async reconcile(): Promise<void> {
    await this.reconcileServing();
    await this.holdExperimentVersions();
  }

  private async reconcileServing(): Promise<void> {
    if (this.closed) return;
    let versions: string[];
    try {
      versions = await this.servableVersions();
    } catch (err) {
      this.log(`cannot read the registry at ${this.registry.root}: ${(err as Error).message}`);
      return;
    }
    const retryMs = this.options.retryRefusedMs ?? 600_000;
    for (const version of versions) {
      if (version === this.loaded?.version) return; // the newest servable version that loads is already serving
      const refused = this.refusedVersions.get(version);
      if (refused && Date.now() - refused.atMs < retryMs) continue;
      try {
        // A version held for an experiment is already loaded and checked.
        const next = this.held.get(version) ?? (await this.load(version));
        this.held.delete(version);
        if (this.closed) {
          await next.pool.close();
          return;
        }
        const previous = this.loaded;
        this.loaded = next;
        this.refusedVersions.delete(version);
        this.log(`serving ${this.model} ${version}${previous ? ` (was ${previous.version})` : ''}`);
        this.onChange(next);
        if (previous && this.options.experimentVersions?.includes(previous.version))
          this.held.set(previous.version, previous);
        else if (previous) void retire(previous);
        return;
      } catch (err) {
        const reason = (err as Error).message;
        this.refusedVersions.set(version, { version, reason, atMs: Date.now() });
        this.log(
          `refused ${this.model} ${version}: ${reason}${this.loaded ? `; ${this.loaded.version} keeps serving` : ''}`,
        );
      }
    }
    // Nothing servable loads: keep what is loaded (even if its state changed) rather than serve nothing.
  }

  /** Loads the experiments' versions not held yet (each once: a version's files never change). */
  private async holdExperimentVersions(): Promise<void> {
    const retryMs = this.options.retryRefusedMs ?? 600_000;
    for (const version of this.options.experimentVersions ?? []) {
      if (this.closed || version === this.loaded?.version || this.held.has(version)) continue;
      const refused = this.refusedVersions.get(version);
      if (refused && Date.now() - refused.atMs < retryMs) continue;
      try {
        const info = await this.registry.get(this.model, version);
        if (!EXPERIMENT_STATES.includes(info.state))
          throw new Error(
            `it is ${info.state}; an experiment may use a version that is ${EXPERIMENT_STATES.join(', ')}`,
          );
        const model = await this.load(version);
        if (this.closed) {
          await model.pool.close();
          return;
        }
        this.held.set(version, model);
        this.refusedVersions.delete(version);
        this.log(
          `holding ${this.model} ${version} for the experiments, beside ${this.loaded?.version ?? 'no serving version'}`,
        );
      } catch (err) {
        const reason = (err as Error).message;
        this.refusedVersions.set(version, { version, reason, atMs: Date.now() });
        this.log(`refused ${this.model} ${version} for the experiments: ${reason}`);
      }
    }
  }

  /** Version names in a servable state, newest first. Reads only each version's state.json. */
  private async servableVersions(): Promise<string[]> {
    const dir = join(this.registry.root, this.model);
    const names = (
      await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)))
    )
      .filter((n) => versionNumber(n) !== undefined)
      .sort((a, b) => versionNumber(b)! - versionNumber(a)!);
    const out: string[] = [];
    for (const name of names) {
      try {
        const { state } = JSON.parse(await readFile(join(dir, name, STATE_FILE), 'utf8')) as { state: ModelState };
        if (SERVABLE_STATES.includes(state)) out.push(name);
      } catch {
        // A version without a readable state is not servable (it may still be being written).
      }
    }
    return out;
  }

  /** Verifies every artifact, opens the ONNX model in worker threads and runs the checks; throws on any failure. */
  private async load(version: string): Promise<LoadedRanker> {
    const info: VersionInfo<RankerManifest> = await this.registry.get<RankerManifest>(this.model, version);
    await verifyArtifacts(info);
    checkManifest(info.manifest);
    const pool = await OnnxSessionPool.open(join(info.dir, info.manifest.onnx.file), {
      workers: this.options.workers ?? 2,
      intraOpThreads: this.options.intraOpThreads ?? 1,
      name: `${this.model} ${version}`,
    });
    try {
      checkSignature(pool);
      await checkProbe(pool, info.dir);
      await checkServingProbe(pool, info.manifest.encoding);
    } catch (err) {
      await pool.close();
      throw err;
    }
    return { version, manifest: info.manifest, pool, loadedAtMs: Date.now(), inflight: 0 };
  }
}

/** Closes a replaced model once its in-flight calls are done (or after 30 s). */
async function retire(model: LoadedRanker): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (model.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await model.pool.close();
}

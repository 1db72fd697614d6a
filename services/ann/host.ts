import { status } from '@grpc/grpc-js';
import { RpcError, failedPrecondition, notFound, resourceExhausted } from '../../libs/bootstrap/errors.js';
import { IndexIntegrityError, readIndexMeta, type ShardRef } from '../../libs/ann/index-files.js';
import { loadItemIndex, type ItemIndex, type Neighbor } from '../../libs/ann/item-index.js';
import { UNSERVABLE_STATES, byVersion, registryModels, servableVersions } from '../../libs/ann/model-versions.js';
import { ITEM_TOWER_FILE } from '../../libs/features/two-tower.js';
import { ModelRegistry, type VersionInfo } from '../../libs/registry/registry.js';

/**
 * What one ANN host holds: per model, several loaded index versions and the one it serves.
 * Loading happens beside the served version; serving switches in one step; searches name the
 * exact version they were embedded with and are refused for any version the host does not hold.
 */

export interface AnnHostOptions {
  /** This host's name in the mesh config (ann.hosts[].name), reported in every answer. */
  name: string;
  registryDir: string;
  /** Models to serve at start-up (default: every model in the registry that has an indexed version). */
  models?: string[];
  /** model → version to serve at start-up instead of the default choice. */
  pin?: Record<string, string>;
  /** Default HNSW efSearch / IVF nprobe of loaded indexes (mesh config ann.efSearch / ann.nprobe). */
  efSearch?: number;
  nprobe?: number;
  /** Most results fetched and largest efSearch of one search (mesh config ann.maxEfSearch; default 2048). */
  maxEfSearch?: number;
  /** Searches this host runs at once; more are RESOURCE_EXHAUSTED (mesh config ann.maxInFlightSearches; default 128). */
  maxInFlightSearches?: number;
  /** Versions a model may have loaded at once (default 3); LoadVersion beyond it is refused. */
  maxVersionsPerModel?: number;
  /** The shard of each version's index this host loads, of how many (default 0 of 1: the whole index). */
  shard?: number;
  shardCount?: number;
  log?: (line: string) => void;
}

interface ModelSlot {
  serving?: string;
  loaded: Map<string, ItemIndex>;
  loading: Map<string, Promise<ItemIndex>>;
}

export interface ServedModelState {
  model: string;
  servingVersion: string;
  loadedVersions: string[];
  items: number;
  dim: number;
  indexType: string;
  shard: number;
  shardCount: number;
}

export class AnnHost {
  readonly name: string;
  /** Which shard of each version's index this host holds (0 of 1: all of it). */
  readonly shard: ShardRef;
  private readonly registry: ModelRegistry;
  private readonly slots = new Map<string, ModelSlot>();
  private readonly log: (line: string) => void;
  private inFlight = 0;
  /** Called whenever what is served changes (for health). */
  onChange: () => void = () => {};

  constructor(private readonly options: AnnHostOptions) {
    this.name = options.name;
    this.shard = { shard: options.shard ?? 0, shards: options.shardCount ?? 1 };
    if (
      !Number.isInteger(this.shard.shards) ||
      this.shard.shards < 1 ||
      !Number.isInteger(this.shard.shard) ||
      this.shard.shard < 0 ||
      this.shard.shard >= this.shard.shards
    ) {
      throw new Error(
        `ANN host ${options.name}: shard ${this.shard.shard} of ${this.shard.shards} is not a shard (0..shards-1)`,
      );
    }
    this.registry = new ModelRegistry(options.registryDir);
    this.log = options.log ?? ((line) => console.error(`[ann.${options.name}] ${line}`));
  }

  /**
   * Start-up: for each model, serves the pinned version, or else the newest version in state
   * `serving` that has an index, or else the newest servable version that has an index. A model
   * with no indexed version is left out (logged); a pinned version that cannot load is an error.
   */
  async start(): Promise<void> {
    const models = this.options.models ?? [
      ...new Set([...(await registryModels(this.registry)), ...Object.keys(this.options.pin ?? {})]),
    ];
    for (const model of models) {
      const pinned = this.options.pin?.[model];
      if (pinned) {
        await this.load(model, pinned);
        this.serve(model, pinned);
        continue;
      }
      const { versions, problems } = await servableVersions(this.registry, model);
      // Models without an item tower (e.g. mf) are not retrieval models: nothing to index.
      if (!versions.some((v) => v.manifest.artifacts?.[ITEM_TOWER_FILE])) continue;
      for (const p of problems) this.log(`skipping ${model}/${p.version}: ${p.error}`);
      const indexed = [];
      for (const v of versions) if (await readIndexMeta(v.dir, this.shard).catch(() => undefined)) indexed.push(v);
      const choice = [...indexed].reverse().find((v) => v.state === 'serving') ?? indexed[indexed.length - 1];
      if (!choice) {
        this.log(
          `no version of ${model} in ${this.registry.root} is indexed for ${this.shardLabel()}; serving nothing for it until LoadVersion/ServeVersion`,
        );
        continue;
      }
      try {
        await this.load(model, choice.version);
        this.serve(model, choice.version);
      } catch (err) {
        this.log(`cannot serve ${model}/${choice.version} at start-up: ${(err as Error).message}`);
      }
    }
  }

  /** Loads (model, version) beside what is served; a no-op when it is loaded already. */
  async load(model: string, version: string): Promise<ItemIndex> {
    const slot = this.slot(model);
    const have = slot.loaded.get(version);
    if (have) return have;
    const pending = slot.loading.get(version);
    if (pending) return pending;
    const limit = this.options.maxVersionsPerModel ?? 3;
    if (slot.loaded.size + slot.loading.size >= limit) {
      throw new RpcError(
        status.RESOURCE_EXHAUSTED,
        `host ${this.name} already holds ${slot.loaded.size + slot.loading.size} versions of ${model} (${this.heldList(model)}), the most it keeps; unload one first`,
      );
    }
    const loading = this.readVersion(model, version);
    slot.loading.set(version, loading);
    try {
      const index = await loading;
      await warmUp(index);
      slot.loaded.set(version, index);
      this.log(
        `loaded ${model}/${version} (${this.shardLabel()}): ${index.meta.factory}, ${index.size} items, dim ${index.dim}`,
      );
      this.onChange();
      return index;
    } finally {
      slot.loading.delete(version);
    }
  }

  /** Makes a loaded version the served one, in one step. */
  serve(model: string, version: string): ServedModelState {
    const slot = this.slots.get(model);
    if (!slot?.loaded.has(version)) {
      throw failedPrecondition(
        `host ${this.name} has not loaded ${model} ${version}; LoadVersion it first (loaded: ${this.heldList(model)})`,
      );
    }
    const previous = slot.serving;
    slot.serving = version;
    if (previous !== version) this.log(`serving ${model}/${version}${previous ? ` (was ${previous})` : ''}`);
    this.onChange();
    return this.describe(model)!;
  }

  /** Drops a loaded version that is not served; its memory is freed once searches in flight end. */
  unload(model: string, version: string): ServedModelState | undefined {
    const slot = this.slots.get(model);
    const index = slot?.loaded.get(version);
    if (!slot || !index)
      throw failedPrecondition(`host ${this.name} does not hold ${model} ${version} (loaded: ${this.heldList(model)})`);
    if (slot.serving === version)
      throw failedPrecondition(
        `host ${this.name} serves ${model} ${version}; ServeVersion another version before unloading it`,
      );
    slot.loaded.delete(version);
    index.dispose();
    this.log(`unloaded ${model}/${version}`);
    this.onChange();
    return this.describe(model);
  }

  /** The index of exactly (model, version), or FAILED_PRECONDITION naming what this host holds. */
  index(model: string, version: string): ItemIndex {
    const slot = this.slots.get(model);
    if (!slot || (slot.loaded.size === 0 && !slot.serving)) {
      throw notFound(
        `host ${this.name} holds no index of model "${model}" (it holds: ${[...this.slots.keys()].filter((m) => this.slots.get(m)!.loaded.size).join(', ') || 'nothing'})`,
      );
    }
    const index = slot.loaded.get(version);
    if (!index) {
      throw failedPrecondition(
        `host ${this.name} does not hold ${model} version "${version}"; it holds ${this.heldList(model)}` +
          (slot.serving ? ` and serves ${slot.serving}: embed with the version GetVersions reports` : ''),
      );
    }
    return index;
  }

  search(
    model: string,
    version: string,
    vector: Float32Array,
    k: number,
    options: { exclude?: ReadonlySet<string>; efSearch?: number; nprobe?: number },
  ): Promise<Neighbor[]> {
    return this.index(model, version).search(vector, k, options);
  }

  /** The caps of one search on this host (ann.maxEfSearch). */
  get maxEfSearch(): number {
    return this.options.maxEfSearch ?? 2048;
  }

  /** Runs one search (of one or more queries) within the host's in-flight limit, or refuses it at once. */
  async limitSearch<T>(run: () => Promise<T>): Promise<T> {
    const most = this.options.maxInFlightSearches ?? 128;
    if (this.inFlight >= most) {
      throw resourceExhausted(
        `host ${this.name} has ${this.inFlight} searches in flight, the most it runs at once (ann.maxInFlightSearches); retry later`,
      );
    }
    this.inFlight++;
    try {
      return await run();
    } finally {
      this.inFlight--;
    }
  }

  describe(model: string): ServedModelState | undefined {
    const slot = this.slots.get(model);
    if (!slot) return undefined;
    const served = slot.serving ? slot.loaded.get(slot.serving) : undefined;
    return {
      model,
      servingVersion: slot.serving ?? '',
      loadedVersions: [...slot.loaded.keys()].sort(byVersion),
      items: served?.size ?? 0,
      dim: served?.dim ?? 0,
      indexType: served?.meta.factory ?? '',
      shard: this.shard.shard,
      shardCount: this.shard.shards,
    };
  }

  /** Every model this host has anything loaded for. */
  describeAll(): ServedModelState[] {
    return [...this.slots.keys()]
      .sort()
      .map((m) => this.describe(m)!)
      .filter((m) => m.loadedVersions.length > 0);
  }

  /** True when at least one model has a served version. */
  get serving(): boolean {
    return [...this.slots.values()].some((s) => s.serving);
  }

  close(): void {
    for (const slot of this.slots.values()) {
      for (const index of slot.loaded.values()) index.dispose();
      slot.loaded.clear();
      slot.serving = undefined;
    }
  }

  private async readVersion(model: string, version: string): Promise<ItemIndex> {
    let info: VersionInfo;
    try {
      info = await this.registry.get(model, version);
    } catch (err) {
      throw notFound(`cannot load ${model} ${version} on host ${this.name}: ${(err as Error).message}`);
    }
    // The same rule as start-up: a version being written or refused by validation is never served.
    if (UNSERVABLE_STATES.includes(info.state)) {
      throw failedPrecondition(
        `host ${this.name} refuses ${model} ${version}: its registry state is "${info.state}", and ${UNSERVABLE_STATES.join(' and ')} versions are never served`,
      );
    }
    const dir = info.dir;
    try {
      const index = await loadItemIndex(dir, { shard: this.shard });
      if (index.meta.model !== model || index.meta.version !== version) {
        index.dispose();
        throw new IndexIntegrityError(
          dir,
          `the index was built for ${index.meta.model}/${index.meta.version}, not ${model}/${version}`,
        );
      }
      index.setDefaults({ efSearch: this.options.efSearch, nprobe: this.options.nprobe });
      return index;
    } catch (err) {
      if (err instanceof IndexIntegrityError) {
        throw new RpcError(
          err.message.includes('no item index') ? status.FAILED_PRECONDITION : status.DATA_LOSS,
          `host ${this.name} refuses ${model} ${version}: ${err.message}${this.slots.get(model)?.serving ? `; still serving ${this.slots.get(model)!.serving}` : ''}`,
        );
      }
      throw err;
    }
  }

  private slot(model: string): ModelSlot {
    let slot = this.slots.get(model);
    if (!slot) {
      slot = { loaded: new Map(), loading: new Map() };
      this.slots.set(model, slot);
    }
    return slot;
  }

  private shardLabel(): string {
    return this.shard.shards === 1 ? 'unsharded' : `shard ${this.shard.shard} of ${this.shard.shards}`;
  }

  private heldList(model: string): string {
    const held = [...(this.slots.get(model)?.loaded.keys() ?? [])].sort(byVersion);
    return held.length ? held.join(', ') : 'no versions';
  }
}

/** Ready means warm: one search before a version is held, so no caller pays the first one. */
async function warmUp(index: ItemIndex): Promise<void> {
  const probe = new Float32Array(index.dim).fill(1 / Math.sqrt(Math.max(1, index.dim)));
  await index.search(probe, Math.min(10, index.size));
}

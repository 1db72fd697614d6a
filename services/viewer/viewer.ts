import { UserContext } from '../../generated/feedloom/v1/common.js';
import { failedPrecondition, notFound } from '../../libs/bootstrap/errors.js';
import { byVersion, registryModels, servableVersions } from '../../libs/ann/model-versions.js';
import { USER_TOWER_FILE } from '../../libs/features/two-tower.js';
import { ModelRegistry, verifyArtifacts } from '../../libs/registry/registry.js';
import { UserTower } from './user-tower.js';

/**
 * The viewer's state: for each learned model, the user towers of its newest `keepVersions`
 * servable registry versions, kept current by polling the registry. Embedding always names the
 * exact version; nothing here falls back to "latest".
 */

export interface ViewerOptions {
  registryDir: string;
  /** Versions of each model kept loaded (mesh config services.viewer.keepVersions), plus any in state `serving`. */
  keepVersions: number;
  /** Models to serve (default: every registry model whose versions carry a user tower). */
  models?: string[];
  /** Worker threads per loaded version (default 2). */
  workersPerVersion?: number;
  /** Requests one version may have waiting (mesh config services.viewer.maxPendingEmbeds; default 1024). */
  maxPendingEmbeds?: number;
  log?: (line: string) => void;
}

export interface LoadedVersionInfo {
  model: string;
  version: string;
  dim: number;
  loadedAtMs: number;
}

export class Viewer {
  private readonly registry: ModelRegistry;
  private readonly towers = new Map<string, Map<string, UserTower>>();
  /** model/version → why it could not load (registry versions are immutable: not retried). */
  private readonly failed = new Map<string, string>();
  private refreshing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: (line: string) => void;
  onChange: () => void = () => {};

  constructor(private readonly options: ViewerOptions) {
    this.registry = new ModelRegistry(options.registryDir);
    this.log = options.log ?? ((line) => console.error(`[viewer] ${line}`));
  }

  /** Loads what the registry has now, then polls every pollMs for new versions. */
  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), pollMs);
    this.timer.unref();
  }

  /** Loads new versions and unloads those that fell out of the newest keepVersions. */
  refresh(): Promise<void> {
    this.refreshing ??= this.sync().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  async embed(
    user: UserContext,
    model: string,
    version: string,
    signal?: AbortSignal,
  ): Promise<{ embedding: Float32Array; tower: UserTower }> {
    const tower = this.tower(model, version);
    return { embedding: await tower.embed(user, signal), tower };
  }

  /** The tower of exactly (model, version), or FAILED_PRECONDITION naming the versions held. */
  tower(model: string, version: string): UserTower {
    const versions = this.towers.get(model);
    if (!versions || versions.size === 0) {
      throw notFound(
        `the viewer holds no version of model "${model}" (it holds: ${[...this.towers.keys()].filter((m) => this.towers.get(m)!.size).join(', ') || 'nothing yet'})`,
      );
    }
    const tower = versions.get(version);
    if (!tower) {
      const why = this.failed.get(`${model}/${version}`);
      throw failedPrecondition(
        `the viewer does not hold ${model} version "${version}"; it holds ${[...versions.keys()].sort(byVersion).join(', ')}` +
          (why ? ` (${version} failed to load: ${why})` : ''),
      );
    }
    return tower;
  }

  list(model?: string): LoadedVersionInfo[] {
    const out: LoadedVersionInfo[] = [];
    for (const [m, versions] of [...this.towers].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (model && m !== model) continue;
      for (const v of [...versions.keys()].sort(byVersion)) {
        const t = versions.get(v)!;
        out.push({ model: m, version: v, dim: t.dim, loadedAtMs: t.loadedAtMs });
      }
    }
    return out;
  }

  get ready(): boolean {
    return [...this.towers.values()].some((v) => v.size > 0);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    await Promise.all([...this.towers.values()].flatMap((v) => [...v.values()].map((t) => t.close())));
    this.towers.clear();
  }

  private async sync(): Promise<void> {
    try {
      const models = this.options.models ?? (await registryModels(this.registry));
      for (const model of models) await this.syncModel(model);
    } catch (err) {
      this.log(`cannot read the registry at ${this.registry.root}: ${(err as Error).message}`);
    }
  }

  private async syncModel(model: string): Promise<void> {
    const { versions, problems } = await servableVersions(this.registry, model);
    for (const p of problems) this.noteFailure(model, p.version, p.error);
    const withTower = versions.filter(
      (v) => v.manifest.artifacts?.[USER_TOWER_FILE] && !this.failed.has(`${model}/${v.version}`),
    );
    // The newest keepVersions, plus any version the registry says is serving (a rollback target
    // must stay loaded even when newer, not yet rolled-out versions have appeared).
    const newest = new Set(withTower.slice(-this.options.keepVersions).map((v) => v.version));
    const wanted = withTower.filter((v) => newest.has(v.version) || v.state === 'serving');
    const held = this.towers.get(model) ?? new Map<string, UserTower>();
    this.towers.set(model, held);
    let changed = false;
    // Newest first, so a new version is usable as soon as possible.
    for (const info of [...wanted].reverse()) {
      if (held.has(info.version)) continue;
      try {
        await verifyArtifacts(info);
        const tower = await UserTower.load(info.dir, info.manifest, {
          workers: this.options.workersPerVersion,
          maxPending: this.options.maxPendingEmbeds,
        });
        // Ready means warm: one embedding before the version is offered, so no caller pays the first run.
        await tower
          .embed(UserContext.fromPartial({ userId: '__warm_up__', requestTimeMs: Date.now() }))
          .catch((err) => this.log(`warm-up of ${model}/${info.version} failed: ${(err as Error).message}`));
        held.set(info.version, tower);
        this.log(`loaded ${model}/${info.version} (dim ${info.manifest.dim})`);
        changed = true;
      } catch (err) {
        this.noteFailure(model, info.version, (err as Error).message);
      }
    }
    const keep = new Set(wanted.map((v) => v.version));
    for (const [version, tower] of held) {
      if (keep.has(version)) continue;
      held.delete(version);
      tower.retire();
      this.log(
        `unloaded ${model}/${version} (keeping the newest ${this.options.keepVersions} and any serving version)`,
      );
      changed = true;
    }
    if (changed) this.onChange();
  }

  private noteFailure(model: string, version: string, error: string): void {
    const key = `${model}/${version}`;
    if (this.failed.get(key) === error) return;
    this.failed.set(key, error);
    this.log(`cannot load ${key}: ${error}`);
  }
}

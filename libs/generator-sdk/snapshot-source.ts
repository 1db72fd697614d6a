import { currentSnapshotVersion, readSnapshot } from '../data/snapshots.js';
import type { MeshConfig } from '../config/mesh.js';
import type { SnapshotRows } from './define.js';

/** Anything that reads snapshots: a generator module, or the blender's item metadata. */
export interface SnapshotConsumer<Data> {
  name: string;
  snapshots: readonly string[];
  prepare?(rows: SnapshotRows, settings: Record<string, unknown>, mesh?: MeshConfig): Data;
}

export interface LoadedData<Data> {
  data: Data;
  /** snapshot name → version */
  versions: Record<string, string>;
  rows: Record<string, number>;
}

/**
 * Keeps prepared snapshot data current: loads its snapshots, prepares them, and swaps in a
 * newer set when one appears. A failed load keeps the previous data serving.
 */
export class SnapshotSource<Data> {
  private loaded: LoadedData<Data> | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly module: SnapshotConsumer<Data>,
    private readonly snapshotsDir: string,
    private readonly settings: Record<string, unknown>,
    private readonly onChange: (ready: boolean, error?: string) => void = () => {},
    private readonly mesh?: MeshConfig,
  ) {}

  get current(): LoadedData<Data> | undefined {
    return this.loaded;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  /** Loads now, then polls every pollMs for newer versions. */
  async start(pollMs: number): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Loads the current versions if any differ from what is served. */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    try {
      const wanted: Record<string, string> = {};
      for (const name of this.module.snapshots) {
        const version = await currentSnapshotVersion(this.snapshotsDir, name);
        if (!version) throw new Error(`snapshot "${name}" is missing under ${this.snapshotsDir} (run the batch jobs)`);
        wanted[name] = version;
      }
      const served = this.loaded?.versions;
      if (served && this.module.snapshots.every((n) => served[n] === wanted[n])) return;
      const rows: SnapshotRows = {};
      const counts: Record<string, number> = {};
      for (const name of this.module.snapshots) {
        const snapshot = await readSnapshot(this.snapshotsDir, name, wanted[name]);
        rows[name] = snapshot.rows as unknown[];
        counts[name] = snapshot.rows.length;
      }
      const data = this.module.prepare ? this.module.prepare(rows, this.settings, this.mesh) : (rows as Data);
      this.loaded = { data, versions: wanted, rows: counts };
      this.lastError = undefined;
      this.onChange(true);
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.loaded) console.error(`[${this.module.name}] keeping snapshot ${JSON.stringify(this.loaded.versions)}: ${this.lastError}`);
      this.onChange(Boolean(this.loaded), this.lastError);
    }
  }
}

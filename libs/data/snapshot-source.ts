import { currentSnapshotVersion, readSnapshot, type RowsOf, type SnapshotContract } from './snapshots.js';

/**
 * Anything that reads snapshots: a generator module (bound to its settings by the SDK), the
 * blender's item catalog, the ranker's. `prepare` gets the rows of each snapshot it names, typed
 * from the snapshots' contracts.
 */
export interface SnapshotConsumer<Data, Snapshots extends readonly SnapshotContract[] = readonly SnapshotContract[]> {
  name: string;
  snapshots: Snapshots;
  prepare?(rows: RowsOf<Snapshots>): Data;
}

/** A snapshot consumer, its rows typed from the contracts it lists. */
export function defineSnapshotConsumer<const Snapshots extends readonly SnapshotContract[], Data>(
  consumer: SnapshotConsumer<Data, Snapshots>,
): SnapshotConsumer<Data, Snapshots> {
  return consumer;
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
  private readonly names: string[];

  constructor(
    private readonly consumer: SnapshotConsumer<Data>,
    private readonly snapshotsDir: string,
    private readonly onChange: (ready: boolean, error?: string) => void = () => {},
  ) {
    this.names = consumer.snapshots.map((s) => s.name);
  }

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
      for (const name of this.names) {
        const version = await currentSnapshotVersion(this.snapshotsDir, name);
        if (!version) throw new Error(`snapshot "${name}" is missing under ${this.snapshotsDir} (run the batch jobs)`);
        wanted[name] = version;
      }
      const served = this.loaded?.versions;
      if (served && this.names.every((n) => served[n] === wanted[n])) return;
      const rows: Record<string, unknown[]> = {};
      const counts: Record<string, number> = {};
      for (const name of this.names) {
        const snapshot = await readSnapshot(this.snapshotsDir, name, wanted[name]);
        rows[name] = snapshot.rows;
        counts[name] = snapshot.rows.length;
      }
      const data = this.consumer.prepare ? this.consumer.prepare(rows) : (rows as Data);
      this.loaded = { data, versions: wanted, rows: counts };
      this.lastError = undefined;
      this.onChange(true);
    } catch (err) {
      this.lastError = (err as Error).message;
      if (this.loaded)
        console.error(
          `[${this.consumer.name}] keeping snapshot ${JSON.stringify(this.loaded.versions)}: ${this.lastError}`,
        );
      this.onChange(Boolean(this.loaded), this.lastError);
    }
  }
}

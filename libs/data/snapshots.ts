// The snapshot store that generators read: <root>/<name>/<version>/{rows.json,manifest.json}
// plus <root>/<name>/CURRENT naming the version to serve. Every write is build-then-rename, so a
// reader sees a whole old snapshot or a whole new one, never a half-written one.
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './world.js';

export interface SnapshotManifest {
  name: string;
  version: string;
  builtAt: string;
  /** The data cut-off: only events before this time went into the rows. */
  asOfMs: number | null;
  rows: number;
  /** What built it (a batch job's name, or whoever published it). */
  job: string;
}

export interface Snapshot<Row = Record<string, unknown>> {
  version: string;
  manifest: SnapshotManifest;
  rows: Row[];
}

/**
 * What a snapshot is: its name, and (as a type) the shape of its rows. The batch job that builds a
 * snapshot is its contract (libs/data/batch/job.ts); a snapshot published by something else (the mf
 * trainer's factors) declares one with defineSnapshot. Consumers name the contracts they read and
 * get their rows typed from them, so a row type is declared once, where the rows are made.
 */
export interface SnapshotContract<Name extends string = string, Row = unknown> {
  readonly name: Name;
  /** Type only, never set: the shape of one row. */
  readonly __row?: Row;
}

/** The row type of a snapshot contract. */
export type RowOf<C> = C extends SnapshotContract<string, infer Row> ? Row : never;

/** The rows of each of a list of snapshot contracts, by snapshot name. */
export type RowsOf<Contracts extends readonly SnapshotContract[]> = {
  [C in Contracts[number] as C['name']]: RowOf<C>[];
};

/** A snapshot contract for a snapshot no batch job builds: `defineSnapshot<MyRow>()('my_snapshot')`. */
export function defineSnapshot<Row>() {
  return <const Name extends string>(name: Name): SnapshotContract<Name, Row> => ({ name });
}

const VERSION_PATTERN = /^v\d{8}T\d{9}Z(-\d{3})?$/;
let lastVersion = '';

/**
 * A version string that sorts lexically by time, e.g. v20261125T184233123Z. Two calls in the same
 * millisecond get -001, -002 ... suffixes, which still sort after the bare one.
 */
export function snapshotVersion(now: Date = new Date()): string {
  let version = 'v' + now.toISOString().replace(/[-:.]/g, '');
  if (version <= lastVersion) version = bumpVersion(lastVersion);
  lastVersion = version;
  return version;
}

function bumpVersion(version: string): string {
  const m = /^(.*?)(?:-(\d{3}))?$/.exec(version)!;
  const next = m[2] === undefined ? 1 : Number(m[2]) + 1;
  return `${m[1]}-${String(next).padStart(3, '0')}`;
}

export function isSnapshotVersion(name: string): boolean {
  return VERSION_PATTERN.test(name);
}

/** Versions on disk, oldest first. */
export async function listSnapshotVersions(root: string, name: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(path.join(root, name));
  } catch {
    return [];
  }
  return entries.filter(isSnapshotVersion).sort();
}

export async function currentSnapshotVersion(root: string, name: string): Promise<string | undefined> {
  try {
    const text = (await fs.readFile(path.join(root, name, 'CURRENT'), 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The data cut-off of the version a snapshot serves, or undefined when it has none (or no version). */
export async function currentSnapshotAsOfMs(root: string, name: string): Promise<number | undefined> {
  const version = await currentSnapshotVersion(root, name);
  if (version === undefined) return undefined;
  const manifest = await readJsonFile<SnapshotManifest>(path.join(root, name, version, 'manifest.json'));
  return manifest.asOfMs ?? undefined;
}

/** Reads a snapshot: by contract (rows typed from it), or by name. */
export async function readSnapshot<C extends SnapshotContract>(
  root: string,
  contract: C,
  version?: string,
): Promise<Snapshot<RowOf<C>>>;
export async function readSnapshot<Row = Record<string, unknown>>(
  root: string,
  name: string,
  version?: string,
): Promise<Snapshot<Row>>;
export async function readSnapshot(
  root: string,
  snapshot: string | SnapshotContract,
  version?: string,
): Promise<Snapshot<unknown>> {
  const name = typeof snapshot === 'string' ? snapshot : snapshot.name;
  const chosen = version ?? (await currentSnapshotVersion(root, name));
  if (chosen === undefined) {
    throw new Error(`no snapshot '${name}' in ${root}: ${path.join(root, name, 'CURRENT')} does not exist`);
  }
  const dir = path.join(root, name, chosen);
  const manifest = await readJsonFile<SnapshotManifest>(path.join(dir, 'manifest.json'));
  const rows = await readJsonFile<unknown[]>(path.join(dir, 'rows.json'));
  if (!Array.isArray(rows)) throw new Error(`snapshot file ${path.join(dir, 'rows.json')} does not hold a JSON array`);
  return { version: chosen, manifest, rows };
}

async function readJsonFile<T>(file: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read snapshot file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`snapshot file ${file} is not valid JSON (corrupt or truncated): ${(err as Error).message}`);
  }
}

export interface PublishOptions {
  asOfMs?: number;
  job?: string;
  /** Old versions to keep after publishing (CURRENT is always kept); default: keep all. */
  keep?: number;
}

/**
 * Publishes a new version of snapshot name. fill(tmpDir) writes rows.json into a temporary folder
 * (e.g. DuckDB's COPY ... TO '<tmpDir>/rows.json' (FORMAT JSON, ARRAY true)) and may return the
 * row count; without one the file is parsed to count and check it. The folder is then renamed into
 * place and CURRENT is switched to it.
 */
export async function publishSnapshot(
  root: string,
  name: string,
  fill: (tmpDir: string) => Promise<void | { rows: number }>,
  options: PublishOptions = {},
): Promise<{ version: string; dir: string; manifest: SnapshotManifest }> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new Error(`snapshot name '${name}' must use letters, digits, '_', '.', '-'`);
  const nameDir = path.join(root, name);
  await fs.mkdir(nameDir, { recursive: true });
  const tmpDir = await fs.mkdtemp(path.join(nameDir, '.tmp-'));
  try {
    await fs.chmod(tmpDir, 0o755); // mkdtemp makes it owner-only; snapshots are for every reader
    const filled = await fill(tmpDir);
    const rowsFile = path.join(tmpDir, 'rows.json');
    let rows: number;
    if (filled && typeof filled.rows === 'number') {
      await fs.access(rowsFile).catch(() => {
        throw new Error(`snapshot '${name}': the fill function did not write ${rowsFile}`);
      });
      rows = filled.rows;
    } else {
      const parsed = await readJsonFile<unknown>(rowsFile);
      if (!Array.isArray(parsed)) throw new Error(`snapshot '${name}': ${rowsFile} does not hold a JSON array`);
      rows = parsed.length;
    }
    const manifest: SnapshotManifest = {
      name,
      version: '',
      builtAt: new Date().toISOString(),
      asOfMs: options.asOfMs ?? null,
      rows,
      job: options.job ?? name,
    };
    const version = await renameIntoPlace(nameDir, tmpDir, manifest);
    await writeFileAtomic(path.join(nameDir, 'CURRENT'), version + '\n');
    if (options.keep !== undefined) await pruneSnapshots(root, name, options.keep);
    return { version, dir: path.join(nameDir, version), manifest: { ...manifest, version } };
  } catch (err) {
    await fs.rm(tmpDir, { recursive: true, force: true });
    throw err;
  }
}

/** Picks a version newer than any on disk and renames tmpDir to it, retrying if another writer won the name. */
async function renameIntoPlace(nameDir: string, tmpDir: string, manifest: SnapshotManifest): Promise<string> {
  const existing = await listSnapshotVersions(path.dirname(nameDir), path.basename(nameDir));
  let version = snapshotVersion();
  const newest = existing[existing.length - 1];
  if (newest !== undefined && version <= newest) version = bumpVersion(newest);
  for (let attempt = 0; attempt < 100; attempt++) {
    manifest.version = version;
    await fs.writeFile(path.join(tmpDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    try {
      await fs.rename(tmpDir, path.join(nameDir, version));
      lastVersion = version > lastVersion ? version : lastVersion;
      return version;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      version = bumpVersion(version);
    }
  }
  throw new Error(`could not find a free snapshot version in ${nameDir}`);
}

/** Convenience for rows built in JS: publishes them as rows.json. */
export async function publishRows(root: string, name: string, rows: unknown[], options: PublishOptions = {}) {
  return publishSnapshot(
    root,
    name,
    async (tmpDir) => {
      await fs.writeFile(path.join(tmpDir, 'rows.json'), JSON.stringify(rows));
      return { rows: rows.length };
    },
    options,
  );
}

/**
 * Deletes all but the newest `keep` versions (never the one CURRENT names), and temp folders left
 * behind by crashed writers more than an hour ago. Returns the deleted versions.
 */
export async function pruneSnapshots(root: string, name: string, keep: number): Promise<string[]> {
  const nameDir = path.join(root, name);
  const versions = await listSnapshotVersions(root, name);
  const current = await currentSnapshotVersion(root, name);
  const doomed = versions.slice(0, Math.max(0, versions.length - Math.max(0, keep))).filter((v) => v !== current);
  for (const v of doomed) await fs.rm(path.join(nameDir, v), { recursive: true, force: true });

  const entries = await fs.readdir(nameDir).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => e.startsWith('.tmp-'))) {
    const stat = await fs.stat(path.join(nameDir, entry)).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > 3_600_000)
      await fs.rm(path.join(nameDir, entry), { recursive: true, force: true });
  }
  return doomed;
}

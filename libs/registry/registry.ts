// The model registry: a directory tree <root>/<model>/<version>/ with manifest.json, the artifacts
// and state.json. A version folder appears whole (built in a temp folder, fsynced, renamed into
// place) and state.json is replaced by temp-and-rename, so a reader never sees half of anything.
// At scale the same layout lives in object storage.
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  listFiles,
  replaceFileAtomic,
  sha256File,
  syncDir,
  syncTree,
  withLockFile,
  writeFileSynced,
} from './fs-atomic.js';
import { assertTransition, isModelState, PROTECTED_STATES, type ModelState } from './states.js';

export interface ArtifactEntry {
  sha256: string;
  bytes: number;
}

/** What every manifest holds; model-specific manifests (e.g. TwoTowerManifest) add their own fields. */
export interface BaseManifest {
  model: string;
  version: string;
  createdAtMs: number;
  /** File name (relative to the version folder) → hash and size, recorded by create(). */
  artifacts: Record<string, ArtifactEntry>;
  [key: string]: unknown;
}

export interface StateChange {
  state: ModelState;
  atMs: number;
  note: string;
}

export interface StateFile {
  state: ModelState;
  history: StateChange[];
}

export interface VersionInfo<M extends BaseManifest = BaseManifest> {
  model: string;
  version: string;
  /** Absolute path of the version folder. */
  dir: string;
  manifest: M;
  state: ModelState;
  history: StateChange[];
}

export const MANIFEST_FILE = 'manifest.json';
export const STATE_FILE = 'state.json';
const RESERVED_FILES = new Set([MANIFEST_FILE, STATE_FILE]);
const VERSION_PATTERN = /^v(\d{4,})$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const STALE_TMP_MS = 3_600_000;

export const formatVersion = (n: number) => `v${String(n).padStart(4, '0')}`;
export const versionNumber = (version: string): number | undefined => {
  const m = VERSION_PATTERN.exec(version);
  return m ? Number(m[1]) : undefined;
};

export class ArtifactIntegrityError extends Error {
  constructor(
    readonly where: string,
    readonly problems: string[],
  ) {
    super(`${where}: artifacts failed verification: ${problems.join('; ')}`);
    this.name = 'ArtifactIntegrityError';
  }
}

export interface CreateOptions {
  /** Note on the first history entry (state `training`). */
  note?: string;
}

/**
 * Parsed manifests by file, with the size and mtime they were read at, for every registry of the
 * process. Serving components poll every version every few seconds, and a two-tower or ranker
 * manifest is most of a megabyte of JSON that never changes once written: parsing it at every poll
 * was work for nothing, and in an all-in-one process the viewer, both ANN hosts and the ranker each
 * held their own copy of the same vocabularies (and of the lookups built on them).
 */
const manifests = new Map<string, { size: number; mtimeMs: number; manifest: BaseManifest }>();

export class ModelRegistry {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The folder of a version (whether or not it exists). */
  dir(model: string, version: string): string {
    checkName('model', model);
    if (versionNumber(version) === undefined)
      throw new Error(`version "${version}" is not a registry version (expected v0001, v0002, …)`);
    return path.join(this.root, model, version);
  }

  /** Models that have at least one version folder. */
  async models(): Promise<string[]> {
    const entries = await fs.readdir(this.root, { withFileTypes: true }).catch(() => []);
    const out: string[] = [];
    for (const e of entries)
      if (e.isDirectory() && NAME_PATTERN.test(e.name) && (await this.versionNames(e.name)).length > 0)
        out.push(e.name);
    return out.sort();
  }

  /** Every version of model, oldest first. A version that cannot be read throws, naming the file. */
  async list<M extends BaseManifest = BaseManifest>(model: string): Promise<VersionInfo<M>[]> {
    const out: VersionInfo<M>[] = [];
    for (const version of await this.versionNames(model)) out.push(await this.get<M>(model, version));
    return out;
  }

  /** One version, with a cheap artifact check (every artifact present, with its recorded size). */
  async get<M extends BaseManifest = BaseManifest>(model: string, version: string): Promise<VersionInfo<M>> {
    const dir = this.dir(model, version);
    const where = `${model}/${version}`;
    let manifest: M;
    try {
      manifest = (await this.readManifest(path.join(dir, MANIFEST_FILE))) as M;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(
          `no version ${where} in the registry at ${this.root} (${path.join(dir, MANIFEST_FILE)} does not exist)`,
        );
      }
      throw new Error(
        `registry version ${where}: cannot read ${path.join(dir, MANIFEST_FILE)}: ${(err as Error).message}`,
      );
    }
    const stateFile = await readStateFile(path.join(dir, STATE_FILE), where);
    const problems = await sizeProblems(dir, manifest.artifacts ?? {});
    if (problems.length) throw new ArtifactIntegrityError(where, problems);
    return { model, version, dir, manifest, state: stateFile.state, history: stateFile.history };
  }

  /** The newest version, or the newest in one of the given states; undefined when there is none. */
  async latest<M extends BaseManifest = BaseManifest>(
    model: string,
    states?: readonly ModelState[],
  ): Promise<VersionInfo<M> | undefined> {
    const names = await this.versionNames(model);
    for (let i = names.length - 1; i >= 0; i--) {
      if (states) {
        const { state } = await readStateFile(path.join(this.dir(model, names[i]), STATE_FILE), `${model}/${names[i]}`);
        if (!states.includes(state)) continue;
      }
      return this.get<M>(model, names[i]);
    }
    return undefined;
  }

  /**
   * Adds a new version of model. fill(tmpDir) writes the artifacts into a temporary folder and
   * returns the rest of the manifest; the registry records every file's sha256 and size under
   * `artifacts`, adds model, version and createdAtMs, writes state.json (state `training`, since
   * `fill` is where training happens), fsyncs, and renames the folder into place under the next
   * free version number. If fill throws, nothing is registered.
   */
  async create<M extends BaseManifest = BaseManifest>(
    model: string,
    fill: (tmpDir: string) => Promise<Record<string, unknown>>,
    options: CreateOptions = {},
  ): Promise<VersionInfo<M>> {
    checkName('model', model);
    const modelDir = path.join(this.root, model);
    await fs.mkdir(modelDir, { recursive: true });
    const tmpDir = await fs.mkdtemp(path.join(modelDir, '.tmp-'));
    const startedAtMs = Date.now();
    try {
      await fs.chmod(tmpDir, 0o755);
      const filled = await fill(tmpDir);
      if (filled === null || typeof filled !== 'object')
        throw new Error(`registry create ${model}: fill must return the manifest object`);
      const artifacts: Record<string, ArtifactEntry> = {};
      for (const rel of await listFiles(tmpDir)) {
        if (RESERVED_FILES.has(rel)) continue;
        const file = path.join(tmpDir, rel);
        const { size } = await fs.stat(file);
        if (size === 0) throw new Error(`registry create ${model}: artifact ${rel} is empty`);
        artifacts[rel] = { sha256: await sha256File(file), bytes: size };
      }
      if (Object.keys(artifacts).length === 0)
        throw new Error(`registry create ${model}: fill wrote no artifacts into ${tmpDir}`);
      const state: StateFile = {
        state: 'training',
        history: [{ state: 'training', atMs: startedAtMs, note: options.note ?? 'created' }],
      };
      await writeFileSynced(path.join(tmpDir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
      await syncTree(tmpDir);

      let tried = 0;
      for (let attempt = 0; attempt < 1000; attempt++) {
        const names = await this.versionNames(model);
        const next = Math.max((names.length ? versionNumber(names[names.length - 1])! : 0) + 1, tried + 1);
        tried = next;
        const version = formatVersion(next);
        const manifest = { ...filled, model, version, createdAtMs: Date.now(), artifacts } as unknown as M;
        await writeFileSynced(path.join(tmpDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
        await syncDir(tmpDir);
        try {
          await fs.rename(tmpDir, path.join(modelDir, version));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST') continue; // another writer took that number
          throw err;
        }
        await syncDir(modelDir);
        return {
          model,
          version,
          dir: path.join(modelDir, version),
          manifest,
          state: state.state,
          history: state.history,
        };
      }
      throw new Error(`registry create ${model}: could not find a free version number in ${modelDir}`);
    } catch (err) {
      await fs.rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** A manifest, parsed again only when its size or mtime changed (shared: callers do not modify it). */
  private async readManifest(file: string): Promise<BaseManifest> {
    const { size, mtimeMs } = await fs.stat(file);
    const cached = manifests.get(file);
    if (cached && cached.size === size && cached.mtimeMs === mtimeMs) return cached.manifest;
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as BaseManifest;
    manifests.set(file, { size, mtimeMs, manifest });
    return manifest;
  }

  /** Moves a version to a new state, recording it in its history; an illegal transition throws naming both states. */
  async setState(model: string, version: string, state: ModelState, note = ''): Promise<VersionInfo> {
    if (!isModelState(state)) throw new Error(`"${String(state)}" is not a model state`);
    const dir = this.dir(model, version);
    const where = `${model}/${version}`;
    const file = path.join(dir, STATE_FILE);
    await withLockFile(`${file}.lock`, async () => {
      const current = await readStateFile(file, where);
      assertTransition(where, current.state, state);
      const next: StateFile = { state, history: [...current.history, { state, atMs: Date.now(), note }] };
      await replaceFileAtomic(file, JSON.stringify(next, null, 2) + '\n');
    });
    return this.get(model, version);
  }

  /**
   * Deletes all but the newest `keep` versions, never one that is published or serving, and temp
   * folders that crashed writers left more than an hour ago. Returns the deleted versions.
   */
  async prune(model: string, keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 0) throw new Error(`prune keep must be a non-negative integer (got ${keep})`);
    const modelDir = path.join(this.root, model);
    const names = await this.versionNames(model);
    const candidates = names.slice(0, Math.max(0, names.length - keep));
    const deleted: string[] = [];
    for (const version of candidates) {
      const dir = this.dir(model, version);
      const { state } = await readStateFile(path.join(dir, STATE_FILE), `${model}/${version}`).catch(() => ({
        state: undefined,
      }));
      if (state === undefined || PROTECTED_STATES.includes(state)) continue;
      // Rename aside first, so a reader never sees a half-deleted version.
      const doomed = path.join(modelDir, `.deleting-${version}-${process.pid}-${Date.now()}`);
      await fs.rename(dir, doomed);
      await fs.rm(doomed, { recursive: true, force: true });
      deleted.push(version);
    }
    for (const entry of await fs.readdir(modelDir).catch(() => [] as string[])) {
      if (!entry.startsWith('.tmp-') && !entry.startsWith('.deleting-')) continue;
      const stat = await fs.stat(path.join(modelDir, entry)).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > STALE_TMP_MS)
        await fs.rm(path.join(modelDir, entry), { recursive: true, force: true });
    }
    return deleted;
  }

  /** Recomputes every artifact's sha256 (reads them all): see verifyArtifacts. */
  async verify(model: string, version: string): Promise<VersionInfo> {
    const info = await this.get(model, version);
    await verifyArtifacts(info);
    return info;
  }

  private async versionNames(model: string): Promise<string[]> {
    checkName('model', model);
    const entries = await fs.readdir(path.join(this.root, model), { withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isDirectory() && VERSION_PATTERN.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => versionNumber(a)! - versionNumber(b)!);
  }
}

/**
 * Recomputes the sha256 of every artifact the manifest lists and compares it (and the size) with
 * what was recorded at create(); throws ArtifactIntegrityError listing every mismatch, e.g. a
 * truncated or replaced ONNX file. Reads every artifact: call it when loading a version, not per request.
 */
export async function verifyArtifacts(
  info: Pick<VersionInfo, 'model' | 'version' | 'dir' | 'manifest'>,
): Promise<void> {
  const where = `${info.model}/${info.version}`;
  const artifacts = info.manifest.artifacts ?? {};
  const problems = await sizeProblems(info.dir, artifacts);
  if (Object.keys(artifacts).length === 0) problems.push('the manifest lists no artifacts');
  for (const [rel, entry] of Object.entries(artifacts)) {
    if (problems.some((p) => p.startsWith(`${rel}:`))) continue;
    const actual = await sha256File(path.join(info.dir, rel));
    if (actual !== entry.sha256)
      problems.push(`${rel}: sha256 ${actual.slice(0, 12)}… differs from the recorded ${entry.sha256.slice(0, 12)}…`);
  }
  if (problems.length) throw new ArtifactIntegrityError(where, problems);
}

/** The cheap check: each artifact exists, is a file and has its recorded size (so it is not empty or truncated). */
async function sizeProblems(dir: string, artifacts: Record<string, ArtifactEntry>): Promise<string[]> {
  const problems: string[] = [];
  for (const [rel, entry] of Object.entries(artifacts)) {
    const stat = await fs.stat(path.join(dir, rel)).catch(() => undefined);
    if (!stat || !stat.isFile()) problems.push(`${rel}: missing`);
    else if (stat.size === 0) problems.push(`${rel}: empty`);
    else if (stat.size !== entry.bytes)
      problems.push(`${rel}: ${stat.size} bytes, the manifest records ${entry.bytes}`);
  }
  return problems;
}

async function readStateFile(file: string, where: string): Promise<StateFile> {
  let parsed: StateFile;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8')) as StateFile;
  } catch (err) {
    throw new Error(`registry version ${where}: cannot read ${file}: ${(err as Error).message}`);
  }
  if (!isModelState(parsed.state) || !Array.isArray(parsed.history))
    throw new Error(`registry version ${where}: ${file} does not hold { state, history }`);
  return parsed;
}

function checkName(what: string, name: string): void {
  if (!NAME_PATTERN.test(name))
    throw new Error(`${what} name "${name}" must use letters, digits, '_', '.', '-' and start with a letter or digit`);
}

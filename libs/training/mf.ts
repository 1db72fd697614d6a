// BPR matrix factorization: dataset from the event log (DuckDB), the PyTorch trainer
// (services/offline/trainer/mf_bpr.py), an optional registry version (model `mf`), and the snapshot
// `mf_factors` the mf generator serves from. User and item factors travel in ONE snapshot so a
// generator never pairs users of one training run with items of another.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventsView, openDuck, queryRows } from '../data/duck.js';
import { defineSnapshot, publishSnapshot } from '../data/snapshots.js';
import { DAY_MS, readWorldManifest, worldPaths } from '../data/world.js';
import { ModelRegistry, type BaseManifest, type VersionInfo } from '../registry/registry.js';
import { readNpy, writeNpy } from './npy.js';
import { runPython, trainerScript } from '../python/python.js';

export const MF_MODEL = 'mf';
export const MF_SNAPSHOT = 'mf_factors';

/** Rows of the mf_factors snapshot: one meta row, then one row per user and per item. */
export type MfSnapshotRow =
  | { kind: 'meta'; model: string; version: string; dim: number; users: number; items: number; asOfMs: number }
  | {
      kind: 'user' | 'item';
      id: string;
      /** base64 of the float32 (little-endian) factor vector; item rows end in the bias, user rows in 1. */ f: string;
    };

/** The mf_factors snapshot's contract: what the mf generator reads. */
export const mfFactors = defineSnapshot<MfSnapshotRow>()(MF_SNAPSHOT);

export interface MfManifest extends BaseManifest {
  kind: 'mf_bpr';
  dim: number;
  dataWindow: { startMs: number; endMs: number };
  metrics: Record<string, number>;
  training: Record<string, unknown>;
}

export interface TrainMfOptions {
  worldDir: string;
  /** Register the factors as a version of model `mf` here; without it they are only published. */
  registryRoot?: string;
  /** Publish the mf_factors snapshot here (default <world>/snapshots); null = do not publish. */
  snapshotsDir?: string | null;
  /** Only events before this time (default: the end of the world's data). */
  asOfMs?: number;
  /** Hold out the window's last part to measure recall@K (default 0: train on everything, as served). */
  holdoutMs?: number;
  seed?: number;
  epochs?: number;
  dim?: number;
  trainerArgs?: string[];
  python?: string;
  log?: (line: string) => void;
}

export interface TrainMfResult {
  /** The registry version, when registryRoot was given (state `trained`). */
  info?: VersionInfo<MfManifest>;
  /** The published snapshot version, when published. */
  snapshotVersion?: string;
  metrics: Record<string, number>;
  counts: { interactions: number; users: number; items: number };
  timings: { datasetMs: number; trainMs: number; totalMs: number };
}

interface MfReport {
  dim: number;
  metrics: Record<string, number>;
  training: Record<string, unknown>;
}

/** Writes the BPR dataset: distinct (user, item) clicks/saves before trainEndMs, plus a validation day. */
export async function buildMfDataset(worldDir: string, outDir: string, asOfMs: number, holdoutMs: number) {
  const trainEndMs = asOfMs - holdoutMs;
  await fs.mkdir(outDir, { recursive: true });
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir, { beforeMs: asOfMs });
    const reader = await duck.conn.runAndReadAll(`
      SELECT user_id, item_id, min(time_ms)::DOUBLE AS first_ms FROM events
      WHERE action IN ('click', 'save') AND user_id IS NOT NULL AND item_id IS NOT NULL
      GROUP BY user_id, item_id ORDER BY user_id, item_id`);
    const [userCol, itemCol, firstCol] = reader.getColumnsJS() as unknown as [string[], string[], number[]];
    const userIds: string[] = [];
    const itemIds: string[] = [];
    const userIndex = new Map<string, number>();
    const itemIndex = new Map<string, number>();
    const trainUser: number[] = [];
    const trainItem: number[] = [];
    const later: [string, string][] = [];
    for (let r = 0; r < userCol.length; r++) {
      if (firstCol[r] >= trainEndMs) {
        later.push([userCol[r], itemCol[r]]);
        continue;
      }
      let u = userIndex.get(userCol[r]);
      if (u === undefined) userIndex.set(userCol[r], (u = userIds.push(userCol[r]) - 1));
      let i = itemIndex.get(itemCol[r]);
      if (i === undefined) itemIndex.set(itemCol[r], (i = itemIds.push(itemCol[r]) - 1));
      trainUser.push(u);
      trainItem.push(i);
    }
    await writeNpy(path.join(outDir, 'train_user.npy'), BigInt64Array.from(trainUser, BigInt));
    await writeNpy(path.join(outDir, 'train_item.npy'), BigInt64Array.from(trainItem, BigInt));
    const targets = new Map<number, number[]>();
    for (const [user, item] of later) {
      const u = userIndex.get(user);
      const i = itemIndex.get(item);
      if (u === undefined || i === undefined) continue; // MF has no factors for it: not measurable
      (targets.get(u) ?? targets.set(u, []).get(u)!).push(i);
    }
    const valUsers = [...targets.keys()].sort((a, b) => a - b);
    if (holdoutMs > 0 && valUsers.length > 0) {
      await writeNpy(path.join(outDir, 'val_user.npy'), BigInt64Array.from(valUsers, BigInt));
      const offsets = new BigInt64Array(valUsers.length + 1);
      const rows: bigint[] = [];
      valUsers.forEach((u, k) => {
        for (const i of targets.get(u)!) rows.push(BigInt(i));
        offsets[k + 1] = BigInt(rows.length);
      });
      await writeNpy(path.join(outDir, 'val_target_offsets.npy'), offsets);
      await writeNpy(path.join(outDir, 'val_target_rows.npy'), BigInt64Array.from(rows));
    }
    const [{ first }] = await queryRows<{ first: number | null }>(
      duck.conn,
      `SELECT min(time_ms) AS first FROM events`,
    );
    const meta = {
      asOfMs,
      trainEndMs,
      firstEventMs: first,
      counts: { interactions: trainUser.length, users: userIds.length, items: itemIds.length },
    };
    await fs.writeFile(path.join(outDir, 'mf.json'), JSON.stringify(meta, null, 2));
    await fs.writeFile(path.join(outDir, 'users.json'), JSON.stringify(userIds));
    await fs.writeFile(path.join(outDir, 'items.json'), JSON.stringify(itemIds));
    return { ...meta, userIds, itemIds };
  } finally {
    duck.close();
  }
}

/**
 * Trains BPR factors on the event log before asOfMs, registers them (if registryRoot) and
 * publishes the mf_factors snapshot (unless snapshotsDir is null).
 */
export async function trainMf(options: TrainMfOptions): Promise<TrainMfResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const world = await readWorldManifest(options.worldDir);
  const asOfMs = Math.floor(options.asOfMs ?? world.startMs + world.days * DAY_MS);
  const holdoutMs = options.holdoutMs ?? 0;
  const workDir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-mf-'));
  try {
    const dataDir = path.join(workDir, 'dataset');
    const dataset = await buildMfDataset(options.worldDir, dataDir, asOfMs, holdoutMs);
    if (dataset.counts.interactions === 0)
      throw new Error(
        `no clicks or saves before ${new Date(dataset.trainEndMs).toISOString()} in ${options.worldDir}: nothing to train mf on`,
      );
    const datasetMs = performance.now() - started;
    log(
      `mf dataset: ${dataset.counts.interactions} interactions, ${dataset.counts.users} users, ${dataset.counts.items} items`,
    );
    const reportFile = path.join(workDir, 'report.json');
    let trainMs = 0;
    const train = async (outDir: string): Promise<MfReport> => {
      const t0 = performance.now();
      const args = ['--data', dataDir, '--out', outDir, '--report', reportFile, '--seed', String(options.seed ?? 7)];
      if (options.epochs !== undefined) args.push('--epochs', String(options.epochs));
      if (options.dim !== undefined) args.push('--dim', String(options.dim));
      await runPython(trainerScript('mf_bpr.py'), [...args, ...(options.trainerArgs ?? [])], {
        python: options.python,
        log,
      });
      trainMs = performance.now() - t0;
      await fs.copyFile(path.join(dataDir, 'users.json'), path.join(outDir, 'users.json'));
      await fs.copyFile(path.join(dataDir, 'items.json'), path.join(outDir, 'items.json'));
      return JSON.parse(await fs.readFile(reportFile, 'utf8')) as MfReport;
    };

    let info: VersionInfo<MfManifest> | undefined;
    let factorsDir: string;
    let report!: MfReport;
    let version = 'unregistered';
    if (options.registryRoot) {
      const registry = new ModelRegistry(options.registryRoot);
      const created = await registry.create<MfManifest>(MF_MODEL, async (tmpDir) => {
        report = await train(tmpDir);
        return {
          kind: 'mf_bpr',
          dim: report.dim,
          dataWindow: {
            startMs: Math.min(world.startMs, dataset.firstEventMs ?? world.startMs),
            endMs: dataset.trainEndMs,
          },
          metrics: report.metrics,
          training: { ...report.training, world: world.name, asOfMs },
        };
      });
      info = (await registry.setState(
        MF_MODEL,
        created.version,
        'trained',
        `${dataset.counts.interactions} interactions, train AUC ${report.metrics.train_auc?.toFixed(3)}`,
      )) as VersionInfo<MfManifest>;
      factorsDir = info.dir;
      version = info.version;
    } else {
      factorsDir = path.join(workDir, 'factors');
      report = await train(factorsDir);
    }

    let snapshotVersion: string | undefined;
    if (options.snapshotsDir !== null) {
      const snapshotsDir = options.snapshotsDir ?? worldPaths(options.worldDir).snapshots;
      const published = await publishSnapshot(
        snapshotsDir,
        MF_SNAPSHOT,
        async (tmpDir) => {
          const rows = await factorRows(factorsDir, { model: MF_MODEL, version, asOfMs });
          await fs.writeFile(path.join(tmpDir, 'rows.json'), rowsJson(rows));
          return { rows: rows.length };
        },
        { asOfMs, job: 'mf_bpr', keep: 3 },
      );
      snapshotVersion = published.version;
      log(
        `mf: published snapshot ${MF_SNAPSHOT} ${published.version} (${dataset.counts.users} users, ${dataset.counts.items} items)`,
      );
    }
    return {
      info,
      snapshotVersion,
      metrics: report.metrics,
      counts: dataset.counts,
      timings: { datasetMs, trainMs, totalMs: performance.now() - started },
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The snapshot rows for the factors in dir (user_factors.npy, item_factors.npy, users.json, items.json). */
export async function factorRows(
  dir: string,
  meta: { model: string; version: string; asOfMs: number },
): Promise<MfSnapshotRow[]> {
  const users = JSON.parse(await fs.readFile(path.join(dir, 'users.json'), 'utf8')) as string[];
  const items = JSON.parse(await fs.readFile(path.join(dir, 'items.json'), 'utf8')) as string[];
  const uf = await readNpy(path.join(dir, 'user_factors.npy'));
  const itf = await readNpy(path.join(dir, 'item_factors.npy'));
  const dim = uf.shape[1];
  if (uf.shape[0] !== users.length || itf.shape[0] !== items.length || itf.shape[1] !== dim) {
    throw new Error(
      `mf factors in ${dir} do not match their id lists (users ${uf.shape} vs ${users.length}, items ${itf.shape} vs ${items.length})`,
    );
  }
  const encode = (data: Float32Array, row: number) =>
    Buffer.from(data.buffer, data.byteOffset + row * dim * 4, dim * 4).toString('base64');
  const rows: MfSnapshotRow[] = [{ kind: 'meta', ...meta, dim, users: users.length, items: items.length }];
  users.forEach((id, r) => rows.push({ kind: 'user', id, f: encode(uf.data as Float32Array, r) }));
  items.forEach((id, r) => rows.push({ kind: 'item', id, f: encode(itf.data as Float32Array, r) }));
  return rows;
}

/** One row per line inside the array: readable, and far smaller than pretty-printing. */
function rowsJson(rows: unknown[]): string {
  return `[\n${rows.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`;
}

/** Decodes a factor vector from its base64 form. */
export function decodeFactor(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

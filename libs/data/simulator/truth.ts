// The simulator's ground truth on disk, for oracle evaluation: <world>/truth/meta.json plus raw
// little-endian arrays (.f32 float32, .f64 float64, .u8 bytes). Row r of an [n x dim] array is
// entity r (user u<r>, item i<r>); drift is [days x users x dim], zero before a user signed up.
import fs from 'node:fs/promises';
import path from 'node:path';
import { LOCALES, worldPaths, writeFileAtomic } from '../world.js';
import { DIM, MODEL, type Novelty } from './model.js';
import type { SimState, Trend } from './state.js';

/** Bump when the simulation changes in a way that makes old worlds impossible to continue. */
export const SIMULATOR_VERSION = 1;

export interface TruthMeta {
  simulatorVersion: number;
  preset: string;
  seed: number;
  startMs: number;
  days: number;
  dim: number;
  topics: number;
  users: number;
  items: number;
  locales: readonly string[];
  model: typeof MODEL;
  trends: Trend[];
  /** Present when the world was made with novelty (model.ts). */
  novelty?: Novelty;
  files: Record<string, string>;
}

export interface Truth {
  meta: TruthMeta;
  topicVec: Float32Array;
  userVec: Float32Array;
  userDrift: Float32Array;
  userLocale: Uint8Array;
  itemVec: Float32Array;
  itemLogQuality: Float32Array;
  itemLocale: Uint8Array;
  itemCreatedMs: Float64Array;
}

const FILES = {
  topicVec: 'topic_vectors.f32',
  userVec: 'user_vectors.f32',
  userDrift: 'user_drift.f32',
  userLocale: 'user_locale.u8',
  itemVec: 'item_vectors.f32',
  itemLogQuality: 'item_log_quality.f32',
  itemLocale: 'item_locale.u8',
  itemCreatedMs: 'item_created_ms.f64',
} as const;

const FILE_NOTES: Record<keyof typeof FILES, string> = {
  topicVec: '[topics x dim] unit topic directions',
  userVec: '[users x dim] long-term interest (unit)',
  userDrift: '[days x users x dim] short-term drift; interest on day d = normalize(user + drift[d])',
  userLocale: '[users] index into locales',
  itemVec: '[items x dim] unit item vectors',
  itemLogQuality: '[items] log of item quality',
  itemLocale: '[items] index into locales',
  itemCreatedMs: '[items] creation time, ms since epoch',
};

function bytesOf(a: Float32Array | Float64Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export async function writeTruth(dir: string, s: SimState): Promise<void> {
  const root = worldPaths(dir).truth;
  await fs.mkdir(root, { recursive: true });
  const U = s.userCount;
  const I = s.itemCount;
  const days = s.driftHistory.length;
  const drift = new Float32Array(days * U * DIM);
  s.driftHistory.forEach((d, day) => drift.set(d, day * U * DIM));

  const arrays: Record<keyof typeof FILES, Float32Array | Float64Array | Uint8Array> = {
    topicVec: s.topicVec,
    userVec: s.userVec.subarray(0, U * DIM),
    userDrift: drift,
    userLocale: s.userLocale.subarray(0, U),
    itemVec: s.itemVec.subarray(0, I * DIM),
    itemLogQuality: s.itemLogQuality.subarray(0, I),
    itemLocale: s.itemLocale.subarray(0, I),
    itemCreatedMs: s.itemCreatedMs.subarray(0, I),
  };
  for (const key of Object.keys(FILES) as (keyof typeof FILES)[]) {
    await writeFileAtomic(path.join(root, FILES[key]), bytesOf(arrays[key]));
  }
  const meta: TruthMeta = {
    simulatorVersion: SIMULATOR_VERSION,
    preset: s.presetName,
    seed: s.seed,
    startMs: s.startMs,
    days,
    dim: DIM,
    topics: s.topicCount,
    users: U,
    items: I,
    locales: LOCALES,
    model: MODEL,
    trends: s.trends,
    ...(s.novelty && { novelty: s.novelty }),
    files: Object.fromEntries((Object.keys(FILES) as (keyof typeof FILES)[]).map((k) => [FILES[k], FILE_NOTES[k]])),
  };
  // meta.json last: its presence says the truth is complete.
  await writeFileAtomic(path.join(root, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
}

export async function readTruthMeta(dir: string): Promise<TruthMeta> {
  const file = path.join(worldPaths(dir).truth, 'meta.json');
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as TruthMeta;
  } catch (err) {
    throw new Error(`world ${path.resolve(dir)} has no readable simulator truth (${file}): ${(err as Error).message}`);
  }
}

export async function readTruth(dir: string): Promise<Truth> {
  const meta = await readTruthMeta(dir);
  const root = worldPaths(dir).truth;
  const load = async <T>(key: keyof typeof FILES, make: (b: ArrayBuffer) => T, expected: number): Promise<T> => {
    const file = path.join(root, FILES[key]);
    const buf = await fs.readFile(file);
    if (buf.byteLength !== expected)
      throw new Error(`truth file ${file} has ${buf.byteLength} bytes, expected ${expected}`);
    // Copy into a fresh, aligned buffer: Node's pooled Buffers may start at odd offsets.
    const copy = new ArrayBuffer(buf.byteLength);
    new Uint8Array(copy).set(buf);
    return make(copy);
  };
  const { users: U, items: I, dim: D, days, topics } = meta;
  return {
    meta,
    topicVec: await load('topicVec', (b) => new Float32Array(b), topics * D * 4),
    userVec: await load('userVec', (b) => new Float32Array(b), U * D * 4),
    userDrift: await load('userDrift', (b) => new Float32Array(b), days * U * D * 4),
    userLocale: await load('userLocale', (b) => new Uint8Array(b), U),
    itemVec: await load('itemVec', (b) => new Float32Array(b), I * D * 4),
    itemLogQuality: await load('itemLogQuality', (b) => new Float32Array(b), I * 4),
    itemLocale: await load('itemLocale', (b) => new Uint8Array(b), I),
    itemCreatedMs: await load('itemCreatedMs', (b) => new Float64Array(b), I * 8),
  };
}

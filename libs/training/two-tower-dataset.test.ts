// The dataset builder on the tiny world: train/serve parity of the user features (the replayed
// contexts encode exactly like the Events service's contexts), no future data, and the catalog
// table is what the indexer's itemFeatureRows gives.
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEvents } from '../../test/fixtures/events.js';
import { testWorld } from '../../test/fixtures/world.js';
import { DAY_MS, readWorldManifest } from '../data/world.js';
import {
  encodeItemBatch,
  encodeUserBatch,
  ITEM_INPUTS,
  OOV,
  USER_INPUTS,
  type UserBatch,
} from '../features/two-tower.js';
import { itemFeatureRows } from './item-features.js';
import { readNpy } from './npy.js';
import { buildTwoTowerDataset, type TwoTowerDataset } from './two-tower-dataset.js';

let world: string;
let dir: string;
let dataset: TwoTowerDataset;

const read = async (name: string) => {
  const entry = dataset.manifest.arrays[name];
  if (!entry) throw new Error(`no array ${name}`);
  return readNpy(path.join(dir, entry.file));
};

/** Row r of the user-feature arrays with the given prefix. */
async function userRow(prefix: string, r: number): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const k of USER_INPUTS) {
    const { data, shape } = await read(`${prefix}${k}`);
    const w = shape[1] ?? 1;
    out[k] = [...data.subarray(r * w, (r + 1) * w)];
  }
  return out;
}

const encodedRow = (batch: UserBatch, r: number, encoding = dataset.manifest.encoding) => {
  const widths: Record<string, number> = {
    hist_items: encoding.inputs.histLen,
    hist_weights: encoding.inputs.histLen,
    follow_creators: encoding.inputs.followLen,
    topics: encoding.inputs.topicLen,
    locale: 1,
    hour: 1,
  };
  return Object.fromEntries(USER_INPUTS.map((k) => [k, [...batch[k].subarray(r * widths[k], (r + 1) * widths[k])]]));
};

beforeAll(async () => {
  world = await testWorld();
  dir = await fs.mkdtemp(path.join(tmpdir(), 'feedloom-dataset-'));
  dataset = await buildTwoTowerDataset({ worldDir: world, outDir: dir });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('two-tower dataset', () => {
  it('holds out the last day and uses nothing from after the window', async () => {
    const w = await readWorldManifest(world);
    const end = w.startMs + w.days * DAY_MS;
    const m = dataset.manifest;
    expect(m.asOfMs).toBe(end);
    expect(m.trainEndMs).toBe(end - DAY_MS);
    expect(m.validationWindow).toEqual({ startMs: end - DAY_MS, endMs: end });
    expect(m.counts.train).toBeGreaterThan(1000);
    expect(m.counts.valUsers).toBeGreaterThan(10);
    const times = (await read('train_time_ms')).data as Float64Array;
    expect(Math.max(...times)).toBeLessThan(m.trainEndMs);
    expect([...times].every((t, i) => i === 0 || t >= times[i - 1])).toBe(true);
    // Vocabularies reserve padding and unknown.
    for (const list of Object.values(m.encoding.vocab)) expect(list.slice(0, 2)).toEqual(['<pad>', '<unk>']);
  });

  it('never puts the positive item in its own history', async () => {
    const L = dataset.manifest.encoding.inputs.histLen;
    const hist = (await read('train_hist_items')).data as BigInt64Array;
    const pos = (await read('train_pos_item')).data as BigInt64Array;
    let leaks = 0;
    for (let r = 0; r < pos.length; r++) {
      if (pos[r] === BigInt(OOV)) continue;
      for (let j = 0; j < L; j++) if (hist[r * L + j] === pos[r]) leaks++;
    }
    expect(leaks).toBe(0);
  });

  it("train_user ties a user's examples: each one's positive is in the history of the user's next example", async () => {
    const L = dataset.manifest.encoding.inputs.histLen;
    const hist = (await read('train_hist_items')).data as BigInt64Array;
    const pos = (await read('train_pos_item')).data as BigInt64Array;
    const user = (await read('train_user')).data as BigInt64Array;
    expect(user.length).toBe(pos.length);
    const previous = new Map<bigint, number>();
    let pairs = 0;
    let found = 0;
    for (let r = 0; r < pos.length; r++) {
      const p = previous.get(user[r]);
      previous.set(user[r], r);
      if (p === undefined) continue;
      pairs++;
      if (hist.subarray(r * L, (r + 1) * L).includes(pos[p])) found++;
    }
    expect(previous.size).toBeGreaterThan(10);
    expect(pairs).toBeGreaterThan(100);
    expect(found / pairs).toBeGreaterThan(0.99);
  });

  it('validation users encode exactly as the Events service context at the cut-off, through encodeUserBatch', async () => {
    const m = dataset.manifest;
    const events = await startTestEvents(world, { asOfMs: m.trainEndMs });
    try {
      const users = JSON.parse(await fs.readFile(path.join(dir, 'val_users.json'), 'utf8')) as string[];
      const sample = users.slice(0, 25);
      // The service's clock runs on from the cut-off; the dataset encodes as of the cut-off itself.
      const contexts = await Promise.all(
        sample.map(async (u) => ({ ...(await events.context(u)), requestTimeMs: m.trainEndMs })),
      );
      const served = encodeUserBatch(contexts, m.encoding);
      let withHistory = 0;
      for (let r = 0; r < sample.length; r++) {
        const row = await userRow('val_', users.indexOf(sample[r]));
        expect(row, `user ${sample[r]}`).toEqual(encodedRow(served, r));
        if ((row.hist_weights as number[]).some((x) => x > 0)) withHistory++;
      }
      expect(withHistory).toBeGreaterThan(10);
    } finally {
      await events.stop();
    }
  });

  it('a training example encodes the user exactly as the Events service would have just before the engagement', async () => {
    const m = dataset.manifest;
    const times = (await read('train_time_ms')).data as Float64Array;
    const weights = (await read('train_hist_weights')).data as Float32Array;
    const L = m.encoding.inputs.histLen;
    // A late example with a long history, and an early one.
    const late = [...times.keys()]
      .reverse()
      .find((r) => weights[r * L + L - 1] > 0 && times[r] !== times[r - 1] && times[r] !== times[r + 1])!;
    const early = [...times.keys()].find(
      (r) => r > 50 && weights[r * L] > 0 && times[r] !== times[r - 1] && times[r] !== times[r + 1],
    )!;
    const users = await exampleUsers([late, early]);
    for (const [r, userId] of [late, early].map((r, i) => [r, users[i]] as const)) {
      const events = await startTestEvents(world, { asOfMs: times[r] });
      try {
        const context = { ...(await events.context(userId)), requestTimeMs: times[r] };
        expect(await userRow('train_', r), `example ${r}`).toEqual(
          encodedRow(encodeUserBatch([context], m.encoding), 0),
        );
      } finally {
        await events.stop();
      }
    }
  });

  it("the catalog table is the indexer's itemFeatureRows at the cut-off, encoded with encodeItemBatch", async () => {
    const m = dataset.manifest;
    const rows = await itemFeatureRows(world, m.trainEndMs);
    const ids = JSON.parse(await fs.readFile(path.join(dir, 'items.json'), 'utf8')) as string[];
    expect(ids).toEqual(rows.map((r) => r.item_id));
    const encoded = encodeItemBatch(rows, m.encoding, m.trainEndMs);
    for (const k of ITEM_INPUTS)
      expect([...((await read(`items_${k}`)).data as BigInt64Array)]).toEqual([...encoded[k]]);
    const freq = (await read('items_freq')).data as Float32Array;
    expect(freq.reduce((a, b) => a + b, 0)).toBe(m.counts.train);
    // Some items have never been engaged: their popularity bucket is the "zero" bucket 1.
    expect([...encoded.pop_bucket].some((b) => b === 1n)).toBe(true);
    expect(new Set([...encoded.pop_bucket]).size).toBeGreaterThan(3);
  });

  /** The user ids of example rows: the n-th example is the n-th first engagement in time order. */
  async function exampleUsers(rowsWanted: number[]): Promise<string[]> {
    const { eventsView, openDuck, queryRows } = await import('../data/duck.js');
    const duck = await openDuck();
    try {
      await eventsView(duck.conn, world, { beforeMs: dataset.manifest.trainEndMs });
      const times = (await read('train_time_ms')).data as Float64Array;
      const out: string[] = [];
      for (const r of rowsWanted) {
        // Example times are unique here (checked by the caller), so the engagement is found by its time.
        const rows = await queryRows<{ user_id: string }>(
          duck.conn,
          `SELECT user_id FROM events WHERE action IN ('click','save') AND time_ms = ${times[r]}`,
        );
        expect(rows.length).toBe(1);
        out.push(rows[0].user_id);
      }
      return out;
    } finally {
      duck.close();
    }
  }
});

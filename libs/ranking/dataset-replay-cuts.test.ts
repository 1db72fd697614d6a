// Replayed requests at two cuts per user (services.ranker.replayCuts): each request is its own
// session with its own history end, an earlier cut is labelled only by its own held-out items and
// reads its own popularity, and a validation user's earlier cut is left out (the gate reads the
// latest cut, as served).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importInteractions } from '../data/importer.js';
import { UDATA_SMALL, writeUData } from '../data/udata-fixture.js';
import { buildSplitWorld, type SplitWorld } from '../eval/split-world.js';
import { readNpy } from '../training/npy.js';
import {
  buildRankerDataset,
  type CandidateReplay,
  type RankerDatasetManifest,
  type ReplayedRequest,
} from './dataset.js';
import type { RankerItem } from './encoding.js';
import { readValRequests } from './heldout.js';

const tmp = mkdtempSync(join(tmpdir(), 'feedloom-replay-cuts-'));
const worldDir = join(tmp, 'world');
const outDir = join(tmp, 'dataset');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const itemsWith = (ids: Iterable<string>, popularity: number): Map<string, RankerItem> =>
  new Map([...ids].map((id) => [id, { topic: null, creatorId: null, locale: null, createdMs: null, popularity }]));

describe('replayed requests at an earlier cut', () => {
  let latest: SplitWorld;
  let earlier: SplitWorld;
  let manifest: RankerDatasetManifest;
  const filler = new Map<string, string[]>();

  beforeAll(async () => {
    const input = join(tmp, 'u.data');
    writeUData(input, UDATA_SMALL);
    await importInteractions({ input, dir: worldDir, sep: 'tab', columns: ['user', 'item', 'rating', 'timestamp'] });
    latest = await buildSplitWorld(worldDir, { fraction: 0.2 }, () => {});
    earlier = await buildSplitWorld(latest.dir, { fraction: 0.2 }, () => {});
    const catalog = new Set([...latest.train.values(), ...[...latest.heldOut.values()].map((h) => [...h])].flat());
    // Each request: the items of both held-out parts and a few the user never interacted with.
    const request = (user: string, split: SplitWorld, cut: number): ReplayedRequest => {
      const all = new Set([...(latest.train.get(user) ?? []), ...(latest.heldOut.get(user) ?? [])]);
      const others = filler.get(user) ?? [...catalog].filter((i) => !all.has(i)).slice(0, 5);
      filler.set(user, others);
      const items = [...(latest.heldOut.get(user) ?? []), ...(earlier.heldOut.get(user) ?? []), ...others];
      return {
        user,
        timeMs: 0,
        historyEndMs: split.cutMs.get(user)!,
        candidates: items.map((itemId, rank) => ({ itemId, sources: [{ generator: 'g', rank }] })),
        ...(cut > 0 && { cut, items: itemsWith(catalog, 2), labelItems: split.heldOut.get(user)! }),
      };
    };
    const time = Math.max(...latest.cutMs.values()) + 1;
    const requests = [
      ...[...latest.heldOut.keys()].map((u) => request(u, latest, 0)),
      ...[...earlier.heldOut.keys()].map((u) => request(u, earlier, 1)),
    ].map((r) => ({ ...r, timeMs: time }));
    const replayed: CandidateReplay = { requests, items: itemsWith(catalog, 1), heldOutFraction: 0.2 };
    manifest = (await buildRankerDataset({ worldDir, outDir, replayed })).manifest;
  }, 120_000);

  it('trains on both cuts of a training user, each with its own history, popularity and labels', async () => {
    const npy = async (name: string) => (await readNpy(join(outDir, `${name}.npy`))).data;
    const [start, end, exCtx, labels, popularity] = await Promise.all(
      ['train_ctx_hist_start', 'train_ctx_hist_end', 'train_ex_ctx', 'train_ex_labels', 'train_cand_popularity'].map(
        npy,
      ),
    );
    expect(manifest.counts.requestsWithoutPositive).toBe(0);
    // The training contexts, user by user (validation users left out), the earlier cut first.
    const valUsers = new Set((await readValRequests(outDir)).sessions.map((s) => s.user));
    const expected = [...new Set([...latest.heldOut.keys(), ...earlier.heldOut.keys()])]
      .filter((u) => !valUsers.has(u))
      .sort()
      .flatMap((u) => [
        ...(earlier.heldOut.has(u) ? [{ user: u, cut: 1, positives: earlier.heldOut.get(u)!.size }] : []),
        { user: u, cut: 0, positives: latest.heldOut.get(u)!.size },
      ]);
    expect(manifest.counts.trainSessions).toBe(expected.length);
    const positives = new Array(expected.length).fill(0);
    const pops = expected.map(() => new Set<number>());
    for (let e = 0; e < exCtx.length; e++) {
      positives[exCtx[e] as number] += labels[3 * e] as number;
      pops[exCtx[e] as number].add(popularity[e] as number);
    }
    let exact = 0;
    expected.forEach((x, c) => {
      expect([...pops[c]]).toEqual([x.cut === 1 ? 2 : 1]);
      if (x.cut === 1) {
        // Only its own held-out part labels it, though the user went on to the later one too.
        expect(positives[c]).toBe(x.positives);
        expect(start[c + 1]).toBe(start[c]);
        expect(end[c]).toBeLessThan(end[c + 1] as number);
      } else {
        // At least its held-out part; more only by a tie in time at the earlier cut.
        expect(positives[c]).toBeGreaterThanOrEqual(x.positives);
        if (positives[c] === x.positives) exact++;
      }
    });
    expect(expected.filter((x) => x.cut === 1).length).toBeGreaterThan(100);
    expect(exact).toBeGreaterThan(0.9 * expected.filter((x) => x.cut === 0).length);
  });

  it('validates on the latest cut only', async () => {
    const val = await readValRequests(outDir);
    const users = val.sessions.map((s) => s.user);
    expect(users.length).toBeGreaterThan(0);
    expect(new Set(users).size).toBe(users.length);
    expect(new Set(val.sessions.map((s) => s.sessionId))).toEqual(new Set([val.sessions[0].sessionId]));
    expect(JSON.parse(readFileSync(join(outDir, 'dataset.json'), 'utf8')).counts.valSessions).toBe(users.length);
  });
});

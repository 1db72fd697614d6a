import { status } from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserContext } from '../../generated/feedloom/v1/common.js';
import { HealthCheckResponse_ServingStatus as Serving, HealthClient } from '../../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../bootstrap/client.js';
import type { ScoredItem } from '../data/batch/job.js';
import { defineSnapshot, publishRows, readSnapshot } from '../data/snapshots.js';
import { defineGenerator } from './define.js';
import { normalizeCandidates } from './answer.js';
import { startGeneratorForTest } from './testing.js';

const ranked = defineSnapshot<ScoredItem>()('ranked');

const echo = defineGenerator({
  name: 'echo',
  kind: 'heuristic',
  description: 'returns the snapshot rows in order',
  requestCost: 'O(quota)',
  snapshots: [ranked],
  prepare: (rows) => rows.ranked,
  generate: ({ quota }, { data }) =>
    data.slice(0, quota).map((r) => ({ itemId: r.item_id, score: r.score, reason: '' })),
});

const user = UserContext.fromPartial({ userId: 'u1' });
let served: Awaited<ReturnType<typeof startGeneratorForTest>> | undefined;
afterEach(async () => {
  await served?.stop();
  served = undefined;
});

describe('generator SDK serving', () => {
  it('is NOT_SERVING and answers UNAVAILABLE while its snapshot is missing, then serves once it lands', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sdk-'));
    served = await startGeneratorForTest(echo, root);
    expect(served.server.health.get('')).toBe(Serving.NOT_SERVING);
    expect(served.server.health.get('feedloom.v1.CandidateGenerator')).toBe(Serving.NOT_SERVING);
    const err = await served.generate(user, 3).catch((e) => e);
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toMatch(/snapshot "ranked" is missing/);

    await publishRows(root, 'ranked', [
      { item_id: 'a', score: 2 },
      { item_id: 'b', score: 1 },
    ]);
    await served.server.source!.refresh();
    await served.server.warming();
    expect(served.server.health.get('')).toBe(Serving.SERVING);
    expect((await served.generate(user, 3)).candidates.map((c) => c.itemId)).toEqual(['a', 'b']);
  });

  it('reloads a newer snapshot, and keeps serving the old one when the newer is corrupt', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sdk-'));
    const first = await publishRows(root, 'ranked', [{ item_id: 'old', score: 1 }]);
    served = await startGeneratorForTest(echo, root);
    expect((await served.generate(user, 3)).snapshotVersion).toBe(first.version);

    const second = await publishRows(root, 'ranked', [{ item_id: 'new', score: 1 }]);
    await served.server.source!.refresh();
    const after = await served.generate(user, 3);
    expect(after.candidates.map((c) => c.itemId)).toEqual(['new']);
    expect(after.snapshotVersion).toBe(second.version);

    const third = await publishRows(root, 'ranked', [{ item_id: 'never', score: 1 }]);
    writeFileSync(join(root, 'ranked', third.version, 'rows.json'), '[{"item_id": "trunc');
    await expect(readSnapshot(root, 'ranked')).rejects.toThrow();
    await served.server.source!.refresh();
    const still = await served.generate(user, 3);
    expect(still.candidates.map((c) => c.itemId)).toEqual(['new']);
    expect(served.server.health.get('')).toBe(Serving.SERVING);
    expect(served.server.source!.error).toMatch(/rows\.json/);
  });

  it('stays NOT_SERVING until its warm-up calls on synthetic viewers from its snapshot have run, then serves', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sdk-'));
    await publishRows(root, 'ranked', [
      { item_id: 'a', score: 2 },
      { item_id: 'b', score: 1 },
    ]);
    // Warm-up calls wait here until the test lets them go.
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    let called: () => void = () => {};
    const firstCall = new Promise<void>((r) => (called = r));
    const asked: UserContext[] = [];
    const held = defineGenerator({
      ...echo,
      name: 'held',
      generate: async ({ user, quota }, { data }) => {
        asked.push(user);
        called();
        await released;
        return data.slice(0, quota).map((r) => ({ itemId: r.item_id, score: r.score, reason: '' }));
      },
    });
    served = await startGeneratorForTest(held, root);
    const health = connect(HealthClient, served.server.address);
    const check = async () => (await callUnary(health, 'check', { service: '' }, { timeoutMs: 5_000 })).status;
    try {
      await firstCall;
      expect(await check()).toBe(Serving.NOT_SERVING);
      // The cold-start viewer and one whose recent clicks are items of the snapshot.
      expect(asked.map((u) => u.recentActions.map((a) => a.itemId))).toContainEqual(['a', 'b']);
      expect(asked.some((u) => u.recentActions.length === 0)).toBe(true);
      release();
      await served.server.warming();
      expect(await check()).toBe(Serving.SERVING);
    } finally {
      release();
      health.close();
    }
  });

  it('describes the snapshot versions it serves', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sdk-'));
    const published = await publishRows(root, 'ranked', [{ item_id: 'a', score: 1 }]);
    served = await startGeneratorForTest(echo, root);
    const about = await served.describe();
    expect(about).toMatchObject({
      name: 'echo',
      description: 'returns the snapshot rows in order',
      requestCost: 'O(quota)',
    });
    expect(about.snapshots).toEqual([{ name: 'ranked', version: published.version, rows: 1 }]);
  });
});

describe('normalizeCandidates', () => {
  it('drops empty ids, duplicates and non-finite scores, and caps at the quota', () => {
    const out = normalizeCandidates(
      [
        { itemId: 'a', score: 3, reason: 'x' },
        { itemId: '', score: 2, reason: '' },
        { itemId: 'a', score: 1, reason: 'dup' },
        { itemId: 'b', score: Number.NaN, reason: '' },
        { itemId: 'c', score: 1, reason: '' },
        { itemId: 'd', score: 0, reason: '' },
      ],
      2,
    );
    expect(out.map((c) => c.itemId)).toEqual(['a', 'c']);
  });
});

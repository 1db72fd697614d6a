// A snapshot held off the JS heap (item_cooccurrence's, libs/columns) is reloaded on worker
// threads by building the new shared arrays and swapping the reference: calls keep being answered
// throughout, from the old version until the swap, then from the new one.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { GenerateRequest, GenerateResponse } from '../generated/feedloom/v1/generator.js';
import { cooccurrence } from '../libs/data/batch/jobs/cooccurrence.js';
import { publishRows, readSnapshot } from '../libs/data/snapshots.js';
import { GeneratorWorkerPool } from '../libs/generator-sdk/worker-pool.js';
import { moduleFile } from '../services/generators/registry.js';
import { activeUsers, startTestEvents } from './fixtures/events.js';
import { snapshotsOf, testWorld } from './fixtures/world.js';

describe('an off-heap snapshot reloaded under load on worker threads', () => {
  let scratch: string;
  let pool: GeneratorWorkerPool;
  let user: UserContext;

  beforeAll(async () => {
    const world = await testWorld();
    // The shared test world is read only: the new version is published into a copy of the one snapshot.
    scratch = mkdtempSync(join(tmpdir(), 'feedloom-offheap-reload-'));
    cpSync(join(snapshotsOf(world), 'cooccurrence'), join(scratch, 'cooccurrence'), { recursive: true });
    const events = await startTestEvents(world);
    user = await events.context((await activeUsers(world, 1))[0]);
    await events.stop();
    pool = new GeneratorWorkerPool(2, [
      {
        name: 'item_cooccurrence',
        moduleUrl: pathToFileURL(moduleFile('item_cooccurrence')).href,
        settings: {},
        snapshotsDir: scratch,
        pollMs: 100,
      },
    ]);
    pool.start();
    await new Promise<void>((resolve) => {
      const off = pool.onStatus(
        'item_cooccurrence',
        () => pool.status('item_cooccurrence')?.ready && (off(), resolve()),
      );
    });
  }, 120_000);
  afterAll(async () => {
    await pool?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  const generate = async () => {
    const request = GenerateRequest.encode({ user, quota: 20, requestId: 'reload' }).finish();
    const answer = await pool.generate(
      'item_cooccurrence',
      { request: new Uint8Array(request), requestId: 'reload', deadline: Date.now() + 5_000 },
      new AbortController().signal,
    );
    return GenerateResponse.decode(answer.bytes).candidates.map((c) => c.itemId);
  };

  it('keeps answering and swaps to the new version', async () => {
    const before = await generate();
    expect(before.length).toBeGreaterThan(0);
    const current = await readSnapshot(scratch, cooccurrence);
    // Every list reversed and rescored: the new version proposes differently.
    const next = current.rows.map((r) => ({
      ...r,
      neighbors: [...r.neighbors].reverse().map((n, i) => ({ ...n, score: i + 1 })),
    }));
    const answers: string[][] = [];
    const failures: unknown[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop)
        await generate().then(
          (a) => answers.push(a),
          (err) => failures.push(err),
        );
    })();
    await new Promise((r) => setTimeout(r, 200));
    const published = await publishRows(scratch, 'cooccurrence', next);
    const until = Date.now() + 30_000;
    // Both workers reload on their own poll: wait until several answers in a row are the new version's.
    while (Date.now() < until && !(answers.length > 8 && answers.slice(-8).every((a) => a.join() !== before.join())))
      await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(answers.some((a) => a.join() === before.join())).toBe(true);
    expect(answers.slice(-8).every((a) => a.join() !== before.join())).toBe(true);
    expect(pool.status('item_cooccurrence')?.versions.cooccurrence).toBe(published.version);
  });
});

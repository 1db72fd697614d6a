// Load shedding in the server bootstrap (libs/bootstrap/admission.ts), on a real gRPC server: a
// generator that burns the thread, flooded with far more concurrent calls than it can serve.
import { status } from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserContext } from '../generated/feedloom/v1/common.js';
import { CandidateGeneratorClient } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { parseMeshConfig } from '../libs/config/mesh.js';
import type { ScoredItem } from '../libs/data/batch/job.js';
import { defineSnapshot, publishRows } from '../libs/data/snapshots.js';
import { defineGenerator } from '../libs/generator-sdk/define.js';
import { serveGenerator } from '../libs/generator-sdk/serve.js';

const ranked = defineSnapshot<ScoredItem>()('ranked');
let entries = 0;

/** Each call holds the thread for 2 × 5 ms, yielding to the event loop between, as a Blend's stages do. */
const burn = defineGenerator({
  name: 'burn',
  kind: 'heuristic',
  description: 'burns 10 ms of CPU per call, in two halves',
  requestCost: 'O(10 ms)',
  snapshots: [ranked],
  prepare: (rows) => rows.ranked,
  generate: async ({ quota }, { data }) => {
    entries++;
    spin(5);
    await new Promise((resolve) => setImmediate(resolve));
    spin(5);
    return data.slice(0, quota).map((r) => ({ itemId: r.item_id, score: r.score, reason: '' }));
  },
});

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const CALLS = 40;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

/** The burn generator served with the admission settings of this mesh config, and a network client. */
async function serve(admission: unknown) {
  const root = mkdtempSync(join(tmpdir(), 'admission-'));
  await publishRows(root, 'ranked', [{ item_id: 'a', score: 1 }]);
  const mesh = parseMeshConfig({
    world: { dir: root },
    services: { events: { port: 0 }, blender: { port: 0 } },
    generators: [{ name: 'burn', port: 0 }],
    admission,
  });
  const server = await serveGenerator(burn, { snapshotsDir: root, port: 0, pollMs: 60_000, mesh });
  await server.warming();
  const client = connect(CandidateGeneratorClient, server.address, { inProcess: false });
  stop = async () => {
    client.close();
    await server.stop(100);
  };
  const generate = (i: number) =>
    callUnary(
      client,
      'generate',
      { user: UserContext.fromPartial({ userId: `u${i}` }), quota: 1, requestId: `flood-${i}` },
      { timeoutMs: 10_000 },
    );
  await generate(-1); // teaches the controller how long a call takes
  entries = 0;
  return generate;
}

/** CALLS calls at once; each settles to its response or its error. */
async function flood(generate: (i: number) => Promise<unknown>) {
  const results = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      generate(i).then(
        () => ({ ok: true as const }),
        (err: { code: status; details: string }) => ({ ok: false as const, code: err.code, details: err.details }),
      ),
    ),
  );
  return { served: results.filter((r) => r.ok), refused: results.filter((r) => !r.ok) };
}

describe('admission control on a real server', () => {
  it('refuses what cannot be served in time at once with UNAVAILABLE, without running the handler, and serves the rest', async () => {
    // One call at a time, and at most 30 ms of predicted queue: about 3 of the 40 can wait.
    const generate = await serve({ generate: { concurrency: 1, maxQueueMs: 30 } });
    const { served, refused } = await flood(generate);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.code).toBe(status.UNAVAILABLE);
      expect(r.details).toMatch(/generator\.burn overloaded: .*admission\.generate.*retry/);
    }
    expect(served.length).toBeGreaterThan(0);
    expect(served.length + refused.length).toBe(CALLS);
    // The refused never reached the generator: it ran exactly once per served call.
    expect(entries).toBe(served.length);
  });

  it('admits every call when admission is off in the config', async () => {
    const generate = await serve({ enabled: false, generate: { concurrency: 1, maxQueueMs: 30 } });
    const { served, refused } = await flood(generate);
    expect(refused).toEqual([]);
    expect(served.length).toBe(CALLS);
    expect(entries).toBe(CALLS);
  });

  it('names the field of a mistyped admission setting', () => {
    expect(() =>
      parseMeshConfig({
        world: { dir: 'w' },
        services: { events: { port: 0 }, blender: { port: 0 } },
        generators: [{ name: 'burn', port: 0 }],
        admission: { blend: { concurency: 2 } },
      }),
    ).toThrow(/admission\.blend.*concurency/);
  });
});

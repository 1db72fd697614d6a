// Latency-adaptive quotas, end to end: a real blender, started from a mesh config in which one
// generator has a latency target, fans out to real gRPC generator servers. The slowed generator's
// work grows with the quota it is asked for (4 ms per candidate: 400 ms at its configured 100, past
// its 250 ms deadline), so a smaller quota really answers faster: the effect is measured, not
// assumed. Its quota, read from the blender's metric, falls step by step until its calls stop timing
// out, and climbs back to the configured one once the delay is gone.
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState, type SourceStatus } from '../generated/feedloom/v1/blender.js';
import type { GenerateRequest } from '../generated/feedloom/v1/generator.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { startTelemetry, type Telemetry } from '../libs/bootstrap/telemetry.js';
import type { RunningServer } from '../libs/bootstrap/server.js';
import { parseMeshConfig } from '../libs/config/mesh.js';
import { startBlender } from '../services/blender/service.js';
import { FanOutGenerators } from './fixtures/fan-out-generators.js';
import { testAdminTokenFile } from './fixtures/mesh.js';

const QUOTA = 100;
const TARGET_MS = 60;
// Far from the target and from the slowest call the quota settles on (about 25 × 4 ms = 100 ms), so
// a loaded machine's scheduling delays do not turn into timeouts.
const DEADLINE_MS = 250;
const SLOW_MS_PER_CANDIDATE = 4;
/** Blends at once, as a feed service's concurrent requests. */
const AT_ONCE = 4;

/** The slowed generator's delay per candidate asked for (0: fast again), and every quota it was asked for. */
let msPerCandidate = 0;
const asked: number[] = [];

/** Answers as many candidates as it is asked for, after `msPerCandidate` for each. */
async function slowedAnswer(request: GenerateRequest, signal: AbortSignal) {
  asked.push(request.quota);
  await sleep(request.quota * msPerCandidate, undefined, { signal });
  return Array.from({ length: request.quota }, (_, i) => ({ itemId: `slowed-${i}`, score: 1, reason: '' }));
}

describe('a generator slowed past its latency target', () => {
  const generators = new FanOutGenerators();
  const exporter = new PrometheusExporter({ preventServerStart: true });
  let telemetry: Telemetry;
  let metrics: Server;
  let metricsUrl: string;
  let blender: RunningServer;
  let client: BlenderClient;

  /** AT_ONCE Blends at once: the slowed generator's status in each. */
  const round = async (): Promise<SourceStatus[]> => {
    const blends = Array.from({ length: AT_ONCE }, (_, i) =>
      callUnary(client, 'blend', { userId: `u${i}`, limit: 10, debug: false, requestId: '' }, { timeoutMs: 10_000 }),
    );
    return (await Promise.all(blends)).map((r) => r.sources.find((s) => s.generator === 'slowed')!);
  };
  /** The quota the blender asks the slowed generator for now: its gauge on the metrics endpoint. */
  const quotaNow = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const sample = /^feedloom_blender_generator_quota\{generator="slowed"\} (\d+)$/m.exec(text);
    expect(sample, 'the quota gauge').not.toBeNull();
    return Number(sample![1]);
  };
  /** Rounds until the quota passes `done` (at most `withinMs`): the slowed generator's statuses over them. */
  const roundsUntil = async (done: (quota: number) => boolean, withinMs = 60_000): Promise<SourceStatus[]> => {
    const statuses: SourceStatus[] = [];
    const until = Date.now() + withinMs;
    while (!done(await quotaNow()) && Date.now() < until) statuses.push(...(await round()));
    expect(done(await quotaNow()), `not within ${withinMs} ms`).toBe(true);
    return statuses;
  };
  const notOk = (statuses: SourceStatus[]) => statuses.filter((s) => s.state !== SourceState.SOURCE_STATE_OK);

  beforeAll(async () => {
    // Telemetry first: the blender's instruments bind to the meter provider when it starts.
    telemetry = startTelemetry({ serviceName: 'feedloom.test', metricReaders: [exporter] });
    metrics = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
    metricsUrl = `http://127.0.0.1:${(metrics.address() as { port: number }).port}/metrics`;

    const steady = await generators.start('steady', async () => [{ itemId: 'steady', score: 1, reason: '' }], {
      quota: QUOTA,
      deadlineMs: 5_000,
    });
    const slowed = await generators.start('slowed', slowedAnswer, { quota: QUOTA, deadlineMs: DEADLINE_MS });
    const worldDir = mkdtempSync(join(tmpdir(), 'feedloom-adaptive-quota-'));
    const mesh = parseMeshConfig({
      world: { dir: worldDir },
      // No events service: each Blend hydrates an unpersonalized context at once (with a warning).
      services: {
        events: { port: 1 },
        blender: { port: 0, fanoutDeadlineMs: 3_000, adaptiveQuota: { windowCalls: 20 } },
      },
      generators: [
        { name: 'steady', port: 0, address: steady.address, quota: QUOTA, deadlineMs: 5_000 },
        {
          name: 'slowed',
          port: 0,
          address: slowed.address,
          quota: QUOTA,
          deadlineMs: DEADLINE_MS,
          latencyTargetMs: TARGET_MS,
        },
      ],
      // Concurrent Blends behind slow calls are what this test makes: none refused for it.
      admission: { enabled: false },
      security: { adminTokenFile: testAdminTokenFile() },
    });
    blender = await startBlender(mesh, { snapshotsDir: join(worldDir, 'snapshots'), port: 0 });
    client = connect(BlenderClient, blender.address);
    await round(); // connect every channel first
    msPerCandidate = SLOW_MS_PER_CANDIDATE;
  });

  afterAll(async () => {
    client?.close();
    await blender?.stop(100);
    await generators.stop();
    await new Promise((resolve) => (metrics ? metrics.close(resolve) : resolve(undefined)));
    await telemetry?.shutdown();
  });

  it('is asked for less until its calls stop timing out, then for its quota again once it is fast', async () => {
    expect(await quotaNow()).toBe(QUOTA);
    // At its configured quota, every call runs past the deadline.
    const falling = await roundsUntil((quota) => quota <= QUOTA / 4);
    expect(falling.slice(0, AT_ONCE).map((s) => s.state)).toEqual(
      Array(AT_ONCE).fill(SourceState.SOURCE_STATE_TIMEOUT),
    );
    expect(falling[0].error).toBe(`no answer within its deadline of ${DEADLINE_MS} ms`);

    // Asked for a quarter or less, it answers every call in time, with what it was asked for.
    asked.length = 0;
    const settled: SourceStatus[] = [];
    for (let i = 0; i < 15; i++) settled.push(...(await round()));
    expect(notOk(settled)).toEqual([]);
    expect(Math.max(...asked)).toBeLessThanOrEqual(QUOTA / 4);
    expect(Math.max(...settled.map((s) => s.latencyMs))).toBeLessThan(DEADLINE_MS);
    const ascending = (a: number, b: number) => a - b;
    expect(settled.map((s) => s.candidates).sort(ascending)).toEqual(asked.slice(-settled.length).sort(ascending));
    expect(await quotaNow()).toBeLessThanOrEqual(QUOTA / 4);

    // The delay removed: the quota climbs back to the configured one, a step per window.
    msPerCandidate = 0;
    asked.length = 0;
    const recovering = await roundsUntil((quota) => quota === QUOTA);
    expect(notOk(recovering)).toEqual([]);
    expect(new Set(asked).size).toBeGreaterThan(3); // step by step
    const after = await round();
    expect(after.map((s) => s.candidates)).toEqual(Array(AT_ONCE).fill(QUOTA));
  });
});

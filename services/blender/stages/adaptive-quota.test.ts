// Latency-adaptive quotas in the fan-out, over real gRPC generator servers. The slowed generator's
// work grows with the quota it is asked for (4 ms per candidate: 400 ms at its configured 100, past
// its 250 ms deadline), so a smaller quota really answers faster: the controller's effect is measured,
// not assumed. Its quota falls step by step until its calls stop timing out, and climbs back to the
// configured one once the delay is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceState, type SourceStatus } from '../../../generated/feedloom/v1/blender.js';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import type { GenerateRequest } from '../../../generated/feedloom/v1/generator.js';
import { AdaptiveQuota } from '../../../libs/blend/adaptive-quota.js';
import { AdaptiveQuotaSchema } from '../../../libs/config/adaptive-quota.js';
import { FanOutGenerators } from '../../../test/fixtures/fan-out-generators.js';
import { fanOut, type GeneratorEndpoint } from './fan-out.js';

const QUOTA = 100;
const TARGET_MS = 60;
// Far from the target and from the slowest call the controller settles on (about 25 × 4 ms = 100 ms),
// so a loaded machine's scheduling delays do not turn into timeouts.
const DEADLINE_MS = 250;
const SLOW_MS_PER_CANDIDATE = 4;
/** Fan-outs at once, as concurrent Blends would make them. */
const AT_ONCE = 4;

const user = UserContext.fromPartial({ userId: 'u1' });
const generators = new FanOutGenerators();

/** The slowed generator's delay per candidate asked for (0: fast again), and every quota it was asked for. */
let msPerCandidate = SLOW_MS_PER_CANDIDATE;
const asked: number[] = [];

/** Answers as many candidates as it is asked for, after `msPerCandidate` for each. */
async function slowedAnswer(request: GenerateRequest, signal: AbortSignal) {
  asked.push(request.quota);
  await sleep(request.quota * msPerCandidate, undefined, { signal });
  return Array.from({ length: request.quota }, (_, i) => ({ itemId: `slowed-${i}`, score: 1, reason: '' }));
}

describe('fanOut with a latency-adaptive quota', () => {
  const quota = new AdaptiveQuota(TARGET_MS, AdaptiveQuotaSchema.parse({ windowCalls: 20 }));
  let endpoints: GeneratorEndpoint[];

  /** AT_ONCE fan-outs at once: the slowed generator's status in each. */
  const round = async (): Promise<SourceStatus[]> => {
    const fanOuts = Array.from({ length: AT_ONCE }, () =>
      fanOut(endpoints, user, { budgetMs: 3_000, requestId: 'adaptive-quota-test' }),
    );
    return (await Promise.all(fanOuts)).map((answers) => answers[1].status);
  };
  /** Rounds until `done` holds (at most `withinMs`): the slowed generator's statuses over them. */
  const roundsUntil = async (done: () => boolean, withinMs = 60_000): Promise<SourceStatus[]> => {
    const statuses: SourceStatus[] = [];
    const until = Date.now() + withinMs;
    while (!done() && Date.now() < until) statuses.push(...(await round()));
    expect(done(), `not within ${withinMs} ms`).toBe(true);
    return statuses;
  };
  const notOk = (statuses: SourceStatus[]) => statuses.filter((s) => s.state !== SourceState.SOURCE_STATE_OK);

  beforeAll(async () => {
    const steady = await generators.start('steady', async () => [{ itemId: 'steady', score: 1, reason: '' }], {
      quota: QUOTA,
      deadlineMs: 5_000,
    });
    const slowed = await generators.start('slowed', slowedAnswer, { quota: QUOTA, deadlineMs: DEADLINE_MS });
    endpoints = [steady, { ...slowed, adaptiveQuota: quota }];
    msPerCandidate = 0;
    await round(); // connect both channels first
    msPerCandidate = SLOW_MS_PER_CANDIDATE;
  });

  afterAll(() => generators.stop());

  it('asks a generator slowed past its target for less until it stops timing out, then for its quota again', async () => {
    expect(quota.quotaOf(QUOTA)).toBe(QUOTA);
    // At its configured quota, each call runs past the deadline.
    const falling = await roundsUntil(() => quota.quotaOf(QUOTA) <= QUOTA / 4);
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
    expect(settled.map((s) => s.candidates)).toEqual(asked.slice(-settled.length));

    // The delay removed: the quota climbs back to the configured one, a step per window.
    msPerCandidate = 0;
    const recovering = await roundsUntil(() => quota.quotaOf(QUOTA) === QUOTA);
    expect(notOk(recovering)).toEqual([]);
    expect(new Set(asked.slice(-recovering.length)).size).toBeGreaterThan(3); // step by step
    const after = await round();
    expect(after.map((s) => s.candidates)).toEqual(Array(AT_ONCE).fill(QUOTA));
  });
});

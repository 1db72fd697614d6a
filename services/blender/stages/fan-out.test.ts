// The fan-out over real gRPC generator servers that answer after a chosen delay: a late generator
// is dropped at its deadline once another source has answered, and waited for (up to the fan-out's
// budget) while none has.
import { afterAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { AdaptiveQuota } from '../../../libs/blend/adaptive-quota.js';
import { failedPrecondition } from '../../../libs/bootstrap/errors.js';
import { AdaptiveQuotaSchema } from '../../../libs/config/adaptive-quota.js';
import { FanOutGenerators } from '../../../test/fixtures/fan-out-generators.js';
import { fanOut, type GeneratorEndpoint } from './fan-out.js';

const user = UserContext.fromPartial({ userId: 'u1' });
const generators = new FanOutGenerators();

/** A generator that answers one candidate named after it (or none), delayMs after each request. */
function generator(name: string, delayMs: number, deadlineMs: number, empty = false): Promise<GeneratorEndpoint> {
  const answer = async () => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return empty ? [] : [{ itemId: `i-${name}`, score: 1, reason: '' }];
  };
  return generators.start(name, answer, { quota: 10, deadlineMs });
}

async function timedFanOut(endpoints: GeneratorEndpoint[], budgetMs: number) {
  const started = performance.now();
  const answers = await fanOut(endpoints, user, { budgetMs, requestId: 'fan-out-test' });
  const states = Object.fromEntries(answers.map((a) => [a.status.generator, a.status.state]));
  return { answers, states, ms: performance.now() - started };
}

afterAll(() => generators.stop());

describe('fanOut', () => {
  it('drops a late generator at its deadline when another has answered', async () => {
    const endpoints = [await generator('fast', 0, 2_000), await generator('slow', 1_500, 150)];
    await timedFanOut(endpoints, 3_000); // connect both channels first
    const { answers, states, ms } = await timedFanOut(endpoints, 3_000);
    expect(states).toEqual({ fast: SourceState.SOURCE_STATE_OK, slow: SourceState.SOURCE_STATE_TIMEOUT });
    expect(answers[1].status.error).toBe('no answer within its deadline of 150 ms');
    expect(ms).toBeLessThan(1_200); // the slow one's answer (1.5 s) was not waited for
  });

  it('while no source has answered, waits past the deadlines for the first answer, then drops the rest', async () => {
    const endpoints = [await generator('late', 400, 100), await generator('later', 2_000, 100)];
    await timedFanOut(endpoints, 5_000);
    const { answers, states, ms } = await timedFanOut(endpoints, 5_000);
    expect(states).toEqual({ late: SourceState.SOURCE_STATE_OK, later: SourceState.SOURCE_STATE_TIMEOUT });
    expect(answers[0].candidates.map((c) => c.itemId)).toEqual(['i-late']);
    expect(answers[0].status.latencyMs).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(1_800); // dropped when the first answer came, not at its own 2 s
  });

  it('does not count an empty answer as an answer', async () => {
    const endpoints = [await generator('empty', 0, 2_000, true), await generator('late', 400, 100)];
    await timedFanOut(endpoints, 5_000);
    const { answers, states } = await timedFanOut(endpoints, 5_000);
    expect(states).toEqual({ empty: SourceState.SOURCE_STATE_OK, late: SourceState.SOURCE_STATE_OK });
    expect(answers[1].candidates.map((c) => c.itemId)).toEqual(['i-late']);
  });

  it('gives up on everyone at the fan-out budget', async () => {
    const endpoints = [await generator('stuck', 3_000, 100)];
    const { answers, states, ms } = await timedFanOut(endpoints, 500);
    expect(states).toEqual({ stuck: SourceState.SOURCE_STATE_TIMEOUT });
    expect(answers[0].candidates).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(2_500);
  });
});

describe('fanOut with an adaptive quota', () => {
  /** A quota judged on every 5 calls against a 50 ms target. */
  const adaptive = () => new AdaptiveQuota(50, AdaptiveQuotaSchema.parse({ windowCalls: 5 }));
  const fiveFanOuts = (endpoints: GeneratorEndpoint[], signal?: () => AbortSignal) =>
    Promise.all(
      Array.from({ length: 5 }, () =>
        fanOut(endpoints, user, { budgetMs: 3_000, requestId: 'fan-out-test', signal: signal?.() }),
      ),
    );

  it('is judged on answered and late calls, not on failures nor on the calls of a Blend given up', async () => {
    const quick = await generator('quick', 0, 2_000);
    const broken = async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      throw failedPrecondition('its index is broken');
    };
    // Slow to fail: over the target, but a failure says nothing about how fast an answer would come.
    const failing = {
      ...(await generators.start('failing', broken, { quota: 10, deadlineMs: 2_000 })),
      adaptiveQuota: adaptive(),
    };
    const late = { ...(await generator('late_again', 1_500, 100)), adaptiveQuota: adaptive() };
    const judged = await fiveFanOuts([quick, failing, late]);
    expect(judged.map((a) => a[1].status.state)).toEqual(Array(5).fill(SourceState.SOURCE_STATE_FAILED));
    expect(failing.adaptiveQuota.quotaOf(10)).toBe(10);
    expect(late.adaptiveQuota.quotaOf(10)).toBe(5); // five calls cut at 100 ms: over the target

    // Blends given up after 60 ms: their calls were cut short by the caller, not by their slowness.
    const abandoned = { ...late, adaptiveQuota: adaptive() };
    const answers = await fiveFanOuts([quick, abandoned], () => AbortSignal.timeout(60));
    expect(answers.map((a) => a[1].status.state)).toEqual(Array(5).fill(SourceState.SOURCE_STATE_TIMEOUT));
    expect(abandoned.adaptiveQuota.quotaOf(10)).toBe(10);
  });
});

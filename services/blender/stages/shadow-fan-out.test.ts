// The fan-out under a policy, over real gRPC generators: a shadow is asked beside the served
// generators but neither holds up the Blend nor counts as the answer that starts their deadlines.
import { afterAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { policyFromConfig } from '../../../libs/blend/policy.js';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import { FanOutGenerators } from '../../../test/fixtures/fan-out-generators.js';
import { fanOut, type GeneratorEndpoint } from './fan-out.js';
import { askShadows, endpointsUnder } from './shadow-fan-out.js';

const user = UserContext.fromPartial({ userId: 'u1' });
const stubs = new FanOutGenerators();
afterAll(() => stubs.stop());

/** A generator answering `candidates` items (i-<name>-<n>) delayMs after each request. */
const generator = (
  name: string,
  o: { delayMs: number; deadlineMs: number; candidates?: number },
): Promise<GeneratorEndpoint> =>
  stubs.start(
    name,
    async () => {
      await new Promise((resolve) => setTimeout(resolve, o.delayMs));
      return Array.from({ length: o.candidates ?? 1 }, (_, i) => ({ itemId: `i-${name}-${i}`, score: 1, reason: '' }));
    },
    { quota: 10, deadlineMs: o.deadlineMs },
  );
const options = { budgetMs: 5_000, requestId: 'shadow-fan-out-test' };
const stateOf = (answers: { status: { generator: string; state: SourceState } }[]) =>
  Object.fromEntries(answers.map((a) => [a.status.generator, a.status.state]));

describe('the fan-out with shadow generators', () => {
  it("splits the endpoints by the policy's plan: served at its quotas and switches, shadows apart", async () => {
    const mesh = parseMeshConfig({
      world: { dir: 'w' },
      services: { events: { port: 1 }, blender: { port: 2 } },
      generators: [
        { name: 'a', port: 3 },
        { name: 'b', port: 4, shadow: true },
        { name: 'c', port: 5, shadow: true, enabled: false },
      ],
      experiments: [
        {
          name: 'e',
          variants: [{ name: 'v', buckets: [{ from: 0, to: 9_999 }], generators: { a: { quota: 7 } } }],
        },
      ],
    });
    const endpoints = await Promise.all(
      ['a', 'b', 'c'].map((name) => generator(name, { delayMs: 0, deadlineMs: 100 })),
    );
    const split = endpointsUnder(policyFromConfig(mesh, { variants: [{ experiment: 'e', variant: 'v' }] }), endpoints);
    expect(split.served.map((g) => [g.name, g.enabled, g.quota])).toEqual([
      ['a', true, 7],
      ['c', false, 200], // switched off: reported DISABLED by the fan-out, not asked as a shadow
    ]);
    expect(split.shadows.map((g) => g.name)).toEqual(['b']);
  });

  it('answers without the slow shadow, which keeps running and reports later', async () => {
    const served = await generator('served', { delayMs: 0, deadlineMs: 2_000 });
    const shadow = await generator('slow_shadow', { delayMs: 1_000, deadlineMs: 3_000, candidates: 3 });
    await fanOut([served, shadow], user, options); // connect both channels first
    const started = performance.now();
    const answers = await fanOut([served], user, options);
    const shadows = askShadows([shadow], user, options);
    const servedMs = performance.now() - started;
    expect(stateOf(answers)).toEqual({ served: SourceState.SOURCE_STATE_OK });
    expect(servedMs).toBeLessThan(800); // not the shadow's second
    expect(shadows.statusesNow()).toEqual([
      expect.objectContaining({ generator: 'slow_shadow', state: SourceState.SOURCE_STATE_UNSPECIFIED }),
    ]);
    const [late] = await shadows.all;
    expect(late.status.state).toBe(SourceState.SOURCE_STATE_OK);
    expect(late.candidates.map((c) => c.itemId)).toEqual(['i-slow_shadow-0', 'i-slow_shadow-1', 'i-slow_shadow-2']);
    expect(shadows.statusesNow()[0].state).toBe(SourceState.SOURCE_STATE_OK);
  });

  it("does not count a shadow's quick answer as the first answer: a late served generator is still waited for", async () => {
    const late = await generator('late_served', { delayMs: 400, deadlineMs: 100 });
    const quick = await generator('quick_shadow', { delayMs: 0, deadlineMs: 2_000 });
    await fanOut([late, quick], user, options);
    const shadows = askShadows([quick], user, options);
    const answers = await fanOut([late], user, options);
    expect(stateOf(answers)).toEqual({ late_served: SourceState.SOURCE_STATE_OK });
    expect((await shadows.all)[0].status.state).toBe(SourceState.SOURCE_STATE_OK);
  });

  it('gives a shadow its own deadline as its whole budget', async () => {
    const stuck = await generator('stuck_shadow', { delayMs: 2_000, deadlineMs: 200 });
    const started = performance.now();
    const [answer] = await askShadows([stuck], user, options).all;
    expect(answer.status.state).toBe(SourceState.SOURCE_STATE_TIMEOUT);
    expect(performance.now() - started).toBeLessThan(1_500);
  });
});

// Experiments on a real mesh: real gRPC generators over the tiny test world, a blender on an
// ephemeral port, and a Ranker server whose utilities the test sets. Two variants with different
// generator sets serve the two halves of the users (checked per response), and a shadow generator,
// slowed on purpose, is asked on every Blend without the Blend waiting for it: its candidates never
// reach a page, while its scorecard fills.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import {
  BlenderClient,
  SourceState,
  type BlendResponse,
  type ExperimentReportResponse,
} from '../generated/feedloom/v1/blender.js';
import { RankerService, type RankRequest } from '../generated/feedloom/v1/ranker.js';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { codeOf } from '../libs/bootstrap/errors.js';
import { bindService, startServer, type RunningServer } from '../libs/bootstrap/server.js';
import { startTelemetry, type Telemetry } from '../libs/bootstrap/telemetry.js';
import { bucketOf } from '../libs/blend/variants.js';
import { snapshotsDirOf, type MeshConfig } from '../libs/config/mesh.js';
import { startBlender } from '../services/blender/service.js';
import { StatusCollector } from '../services/ops/admin/collect.js';
import { renderBody } from '../services/ops/admin/page.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { blendUntil, testAdminToken, testMeshConfig, testServerSecurity } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

const EXPERIMENT = 'sources';
/** Each variant's one served generator: the other one is switched off for its users. */
const SERVED = { popular_only: 'popular', cooccurrence_only: 'item_cooccurrence' } as const;
type Variant = keyof typeof SERVED;
const SHADOW = 'fresh';
/** The shadow answers this late: every page is ready long before. */
const SHADOW_DELAY_MS = 2_000;
/** The test ranker's utility of a candidate the shadow proposed; every other candidate gets less than 1. */
const SHADOW_UTILITY = 10;
const LIMIT = 20;

const variantOf = (userId: string): Variant =>
  bucketOf(userId, EXPERIMENT) < 5_000 ? 'popular_only' : 'cooccurrence_only';

/** A Ranker that puts whatever the shadow proposed first: its candidates would make the page if served. */
async function startShadowLovingRanker(): Promise<RunningServer> {
  return startServer({
    name: 'test-ranker',
    port: 0,
    security: testServerSecurity(),
    services: [
      bindService(RankerService, {
        async rank(request: RankRequest) {
          return {
            scores: request.candidates.map((c, i) => ({
              itemId: c.itemId,
              pClick: 0,
              pSave: 0,
              pHide: 0,
              utility: c.sources.some((s) => s.generator === SHADOW) ? SHADOW_UTILITY : 1 / (i + 2),
            })),
            modelVersion: 'v-test',
            weights: { click: 1, save: 2, hide: -4 },
          };
        },
        async getStatus() {
          return {
            model: 'ranker',
            modelVersion: 'v-test',
            loadedAtMs: 0,
            refused: [],
            weights: undefined,
            registry: '',
            experimentVersions: [],
          };
        },
      }),
    ],
  });
}

describe('experiments on a real mesh', () => {
  let base: Awaited<ReturnType<typeof startAllInOne>>;
  let ranker: RunningServer;
  let blenderServer: RunningServer;
  let blender: BlenderClient;
  let users: string[];
  let configPath: string;
  /** The mesh as the test blender serves it (its ranker, its port). */
  let served: MeshConfig;
  const spans = new InMemorySpanExporter();
  const metricsPort = 40_000 + ((process.pid * 7) % 20_000);
  let telemetry: Telemetry;
  const responses = new Map<string, BlendResponse>();

  const blend = (userId: string) =>
    callUnary(blender, 'blend', { userId, limit: LIMIT, debug: true, requestId: '' }, { timeoutMs: 20_000 });
  const report = () => callUnary(blender, 'experimentReport', {}, { timeoutMs: 5_000 });

  beforeAll(async () => {
    telemetry = startTelemetry({
      serviceName: 'feedloom.test',
      spanProcessors: [new SimpleSpanProcessor(spans)],
      prometheus: { host: '127.0.0.1', port: metricsPort },
    });
    const world = await testWorld();
    // Users on both sides of the split, four each.
    const candidates = await activeUsers(world, 40);
    users = (['popular_only', 'cooccurrence_only'] as const).flatMap((v) =>
      candidates.filter((u) => variantOf(u) === v).slice(0, 4),
    );
    const { mesh, path } = testMeshConfig(world, (raw) => {
      raw.generators = raw.generators.filter((g: { name: string }) =>
        ['popular', 'item_cooccurrence', SHADOW].includes(g.name),
      );
      const shadow = raw.generators.find((g: { name: string }) => g.name === SHADOW);
      // Its deadline (and the fan-out's budget, its cap) well past the delay: every call answers.
      Object.assign(shadow, { shadow: true, deadlineMs: 6_000, settings: { faultDelayMs: SHADOW_DELAY_MS } });
      raw.services.blender.fanoutDeadlineMs = 6_000;
      // The slowed shadow's calls overlap: room for all of them at once.
      raw.admission.generate.concurrency = 64;
      delete raw.ann;
      delete raw.services.viewer;
      delete raw.services.ranker;
      raw.experiments = [
        {
          name: EXPERIMENT,
          description: 'popular alone against item_cooccurrence alone',
          variants: [
            {
              name: 'popular_only',
              buckets: [{ from: 0, to: 4_999 }],
              generators: { item_cooccurrence: { enabled: false } },
            },
            {
              name: 'cooccurrence_only',
              buckets: [{ from: 5_000, to: 9_999 }],
              generators: { popular: { enabled: false } },
            },
          ],
        },
      ];
    });
    configPath = path;
    base = await startAllInOne(mesh, { ephemeralPorts: true }); // points mesh at its ephemeral ports
    ranker = await startShadowLovingRanker();
    const withRanker: MeshConfig = {
      ...mesh,
      services: {
        ...mesh.services,
        ranker: {
          port: ranker.port,
          topN: 400,
          replayCuts: 1,
          deadlineMs: 5_000,
          weights: { click: 1, save: 2, hide: -4 },
          model: 'ranker',
        },
      },
    };
    blenderServer = await startBlender(withRanker, { snapshotsDir: snapshotsDirOf(withRanker), port: 0 });
    served = {
      ...withRanker,
      services: { ...withRanker.services, blender: { ...withRanker.services.blender, port: blenderServer.port } },
    };
    blender = connect(BlenderClient, blenderServer.address, { token: testAdminToken() });
    await blendUntil(
      () => blend(users[0]),
      (r) => r.items.length > 0 && r.sources.every((s) => s.state !== SourceState.SOURCE_STATE_UNAVAILABLE),
    );
    for (const userId of users) responses.set(userId, await blend(userId));
  }, 240_000);

  afterAll(async () => {
    blender?.close();
    await blenderServer?.stop(100);
    await ranker?.stop(100);
    await base?.stop();
    await telemetry?.shutdown();
  });

  it('has users in both variants', () => {
    expect(users.filter((u) => variantOf(u) === 'popular_only')).toHaveLength(4);
    expect(users.filter((u) => variantOf(u) === 'cooccurrence_only')).toHaveLength(4);
  });

  it("serves each user its variant's generators, and says which variant served it", () => {
    for (const [userId, r] of responses) {
      const variant = variantOf(userId);
      const served = SERVED[variant];
      const switchedOff = variant === 'popular_only' ? 'item_cooccurrence' : 'popular';
      expect(r.variants, userId).toEqual([{ experiment: EXPERIMENT, variant }]);
      expect(r.debug!.variants, userId).toEqual(r.variants);
      expect(r.items.length, userId).toBeGreaterThan(0);
      const itemSources = new Set(r.items.flatMap((i) => i.sources.map((s) => s.generator)));
      expect([...itemSources], userId).toEqual([served]);
      const states = Object.fromEntries(r.sources.map((s) => [s.generator, s.state]));
      expect(states, userId).toEqual({
        [served]: SourceState.SOURCE_STATE_OK,
        [switchedOff]: SourceState.SOURCE_STATE_DISABLED,
      });
    }
  });

  it("never puts the shadow's candidates on a page, and answers without waiting for it", () => {
    for (const [userId, r] of responses) {
      expect(
        r.sources.map((s) => s.generator),
        userId,
      ).not.toContain(SHADOW);
      const proposers = r.debug!.journeys.flatMap((j) => j.sources.map((s) => s.generator));
      expect(proposers, userId).not.toContain(SHADOW);
      // Asked, and still running when the page was ready.
      expect(r.debug!.shadowSources, userId).toEqual([
        expect.objectContaining({
          generator: SHADOW,
          state: SourceState.SOURCE_STATE_UNSPECIFIED,
          error: 'still running when the page was ready',
        }),
      ]);
    }
  });

  it("fills the shadow's scorecard per variant: latency, candidates, overlap, and the page its own would have made", async () => {
    const blends = (v: Variant) => users.filter((u) => variantOf(u) === v).length;
    let last: ExperimentReportResponse | undefined;
    const until = Date.now() + 30_000;
    const filled = (r: ExperimentReportResponse) =>
      (['popular_only', 'cooccurrence_only'] as const).every(
        (v) => (r.scorecards.find((c) => c.variant === `${EXPERIMENT}:${v}`)?.calls ?? 0) >= blends(v),
      );
    while (Date.now() < until && !(last && filled(last))) {
      last = await report();
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last!.traffic).toEqual(
      (['popular_only', 'cooccurrence_only'] as const).map((v) => ({
        experiment: EXPERIMENT,
        variant: v,
        // The warm-up Blends count too.
        blends: expect.toSatisfy((n: number) => n >= blends(v)),
      })),
    );
    for (const v of ['popular_only', 'cooccurrence_only'] as const) {
      const card = last!.scorecards.find((c) => c.generator === SHADOW && c.variant === `${EXPERIMENT}:${v}`);
      expect(card, v).toBeDefined();
      expect(card!.calls, v).toBeGreaterThanOrEqual(blends(v));
      expect(card!.ok, v).toBe(card!.calls);
      expect(card!.latencyP50Ms, v).toBeGreaterThanOrEqual(SHADOW_DELAY_MS);
      expect(card!.candidates, v).toBeGreaterThan(0);
      expect(card!.overlapping + card!.onlyBrought, v).toBe(card!.candidates);
      expect(card!.onlyBrought, v).toBeGreaterThan(0);
      expect(card!.onlyBroughtEligible, v).toBeLessThanOrEqual(card!.onlyBrought);
      // The ranker puts the shadow's candidates first: served beside the others, some would make the page.
      expect(card!.wouldMakePage, v).toBeGreaterThan(0);
      expect(card!.blendsWithPageItems, v).toBeGreaterThan(0);
      expect(card!.unscored, v).toBe(0);
      expect(card!.rankerScored, v).toBeGreaterThan(0);
      expect(card!.onlyBroughtMeanUtility, v).toBeCloseTo(SHADOW_UTILITY);
      expect(card!.pageMeanUtility, v).toBeGreaterThan(0);
    }
  });

  it('prints the report with `feedloom experiments report`, as a table and as JSON', async () => {
    const cli = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [
          'bin/feedloom.js',
          'experiments',
          'report',
          '--config',
          configPath,
          '--address',
          blenderServer.address,
          ...args,
        ],
        { timeout: 60_000 },
      );
    const table = (await cli()).stdout;
    expect(table).toContain(`experiments on blender ${blenderServer.address}`);
    expect(table).toContain(`${EXPERIMENT}: popular alone against item_cooccurrence alone`);
    for (const v of ['popular_only', 'cooccurrence_only'])
      expect(table).toMatch(new RegExp(`\\n  ${SHADOW} +${EXPERIMENT}:${v} +\\d+ +100\\.0%`));
    const json = JSON.parse((await cli('--json')).stdout);
    expect(json.scorecards.map((c: { generator: string; variant: string }) => `${c.generator} ${c.variant}`)).toEqual([
      `${SHADOW} ${EXPERIMENT}:cooccurrence_only`,
      `${SHADOW} ${EXPERIMENT}:popular_only`,
    ]);
    for (const c of json.scorecards)
      expect(c.overlapShare + (c.onlyBroughtPerCall * c.ok) / c.candidates).toBeCloseTo(1);
  });

  it("puts the variant on each Blend's span and on the metrics", async () => {
    const blendSpans = spans.getFinishedSpans().filter((x) => x.name === 'feedloom.v1.Blender/Blend');
    const labels = new Set(blendSpans.map((x) => x.attributes['feedloom.variants']));
    expect([...labels].sort()).toEqual([`${EXPERIMENT}:cooccurrence_only`, `${EXPERIMENT}:popular_only`]);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    /** A sample line of the metric with every one of these labels, in any order. */
    const sample = (metric: string, labels: Record<string, string>) =>
      text
        .split('\n')
        .find(
          (line) => line.startsWith(metric) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)),
        );
    for (const v of ['popular_only', 'cooccurrence_only'] as const) {
      const variant = `${EXPERIMENT}:${v}`;
      expect(sample('feedloom_experiments_blends', { experiment: EXPERIMENT, variant: v }), v).toBeDefined();
      expect(sample('feedloom_blender_page_items', { generator: SERVED[v], variant }), v).toBeDefined();
      expect(
        sample('feedloom_experiments_shadow_calls', { generator: SHADOW, state: 'SOURCE_STATE_OK', variant }),
        v,
      ).toBeDefined();
      expect(sample('feedloom_experiments_shadow_duration', { generator: SHADOW, variant }), v).toBeDefined();
      expect(
        sample('feedloom_experiments_shadow_candidates', { generator: SHADOW, variant, kind: 'would_make_page' }),
        v,
      ).toBeDefined();
    }
  });

  it('shows the report on the status page', async () => {
    const collector = new StatusCollector(served, { sampleUsers: users, probeTimeoutMs: 5_000 });
    try {
      const snapshot = await collector.snapshot();
      const view = snapshot.experiments;
      if (!view.available) throw new Error(view.reason);
      expect(view.traffic.map((t) => t.variant)).toEqual(['popular_only', 'cooccurrence_only']);
      expect(view.descriptions[EXPERIMENT]).toBe('popular alone against item_cooccurrence alone');
      expect(view.scorecards.map((c) => c.generator)).toEqual([SHADOW, SHADOW]);
      expect(snapshot.services.find((x) => x.name === `generator.${SHADOW}`)?.shadow).toBe(true);
      const html = renderBody(snapshot);
      expect(html).toContain('<h2>Experiments');
      for (const v of ['popular_only', 'cooccurrence_only'] as const) {
        expect(html).toContain(`data-variant="${EXPERIMENT}:${v}"`);
        expect(html).toMatch(new RegExp(`data-scorecard="${SHADOW} ${EXPERIMENT}:${v}"`));
      }
      expect(html).toMatch(/data-would-make-page="[1-9]/);
    } finally {
      collector.close();
    }
  });

  it('reports only to an operator', async () => {
    const anonymous = connect(BlenderClient, blenderServer.address);
    try {
      const err = await callUnary(anonymous, 'experimentReport', {}, { timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(codeOf(err)).toBe(status.UNAUTHENTICATED);
    } finally {
      anonymous.close();
    }
  });
});

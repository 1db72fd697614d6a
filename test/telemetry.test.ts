// One trace per Blend covering the fan-out and every generator; metrics on a Prometheus endpoint.
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlenderClient, SourceState } from '../generated/feedloom/v1/blender.js';
import { loadGeneratorModule } from '../services/generators/registry.js';
import { context as otelContext, trace } from '@opentelemetry/api';
import { callUnary, connect } from '../libs/bootstrap/client.js';
import { meshChannelOf } from '../libs/bootstrap/mesh-security.js';
import { startTelemetry, tracer, type Telemetry } from '../libs/bootstrap/telemetry.js';
import { startAllInOne } from '../services/ops/mesh/run.js';
import { activeUsers } from './fixtures/events.js';
import { testMeshConfig } from './fixtures/mesh.js';
import { testWorld } from './fixtures/world.js';

describe('telemetry across the mesh', () => {
  const spans = new InMemorySpanExporter();
  const metricsPort = 40_000 + (process.pid % 20_000);
  let telemetry: Telemetry;
  let mesh: Awaited<ReturnType<typeof startAllInOne>>;
  let blender: BlenderClient;
  let generators: string[];
  let user: string;
  let config: ReturnType<typeof testMeshConfig>['mesh'];

  beforeAll(async () => {
    telemetry = startTelemetry({
      serviceName: 'feedloom.test',
      spanProcessors: [new SimpleSpanProcessor(spans)],
      prometheus: { host: '127.0.0.1', port: metricsPort },
    });
    const world = await testWorld();
    ({ mesh: config } = testMeshConfig(world));
    generators = config.generators.map((g) => g.name);
    mesh = await startAllInOne(config, { ephemeralPorts: true });
    blender = connect(BlenderClient, mesh.addresses.get('blender')!);
    [user] = await activeUsers(world, 1);
  });
  afterAll(async () => {
    blender?.close();
    await mesh?.stop();
    await telemetry?.shutdown();
  });

  it('records one trace per Blend that covers every generator called', async () => {
    spans.reset();
    const response = await callUnary(
      blender,
      'blend',
      { userId: user, limit: 10, debug: false, requestId: 'trace-me' },
      { timeoutMs: 5_000 },
    );
    // Every generator but those whose per-request rule said no for this user (a follow or a board it lacks).
    const asked = response.sources.filter((s) => s.state !== SourceState.SOURCE_STATE_DISABLED).map((s) => s.generator);
    expect(asked.length).toBeGreaterThan(generators.length - 4);
    const finished = spans.getFinishedSpans();
    const blend = finished.find((s) => s.name === 'feedloom.v1.Blender/Blend')!;
    expect(blend).toBeDefined();
    const traceId = blend.spanContext().traceId;
    const inTrace = finished.filter((s) => s.spanContext().traceId === traceId);

    const calledGenerators = inTrace
      .filter((s) => s.name === 'client generate')
      .map((s) => s.attributes['feedloom.generator']);
    expect(calledGenerators.sort()).toEqual([...asked].sort());
    const served = inTrace.filter((s) => s.name === 'feedloom.v1.CandidateGenerator/Generate');
    expect(served).toHaveLength(asked.length);
    const work = inTrace.filter((s) => s.name.startsWith('generate '));
    expect(work.map((s) => s.attributes['feedloom.generator']).sort()).toEqual([...asked].sort());
    for (const s of work) expect(typeof s.attributes['feedloom.candidates']).toBe('number');

    const stages = inTrace.filter((s) => s.name.startsWith('blend.')).map((s) => s.name);
    expect(stages).toEqual(
      expect.arrayContaining([
        'blend.hydrate',
        'blend.fan_out',
        'blend.dedupe',
        'blend.filter',
        'blend.pre_score',
        'blend.compose_page',
      ]),
    );
    // Generator calls hang under the fan-out stage.
    const fanOut = inTrace.find((s) => s.name === 'blend.fan_out')!;
    for (const call of inTrace.filter((s) => s.name === 'client generate'))
      expect(call.parentSpanContext?.spanId).toBe(fanOut.spanContext().spanId);
  });

  it("joins the mesh's own trace context, and makes an outside caller's a link on a new trace", async () => {
    const asMesh = connect(BlenderClient, mesh.addresses.get('blender')!, meshChannelOf(config));
    try {
      const blendUnder = async (client: BlenderClient) => {
        spans.reset();
        const outer = tracer().startSpan('caller');
        await otelContext.with(trace.setSpan(otelContext.active(), outer), () =>
          callUnary(client, 'blend', { userId: user, limit: 10, debug: false, requestId: '' }, { timeoutMs: 5_000 }),
        );
        outer.end();
        const blend = spans.getFinishedSpans().find((s) => s.name === 'feedloom.v1.Blender/Blend')!;
        return { sent: outer.spanContext().traceId, blend };
      };
      // No token: an outside caller. Its trace id is not taken; its span is linked.
      const outside = await blendUnder(blender);
      expect(outside.blend.spanContext().traceId).not.toBe(outside.sent);
      expect(outside.blend.parentSpanContext).toBeUndefined();
      expect(outside.blend.links.map((l) => l.context.traceId)).toEqual([outside.sent]);
      // The mesh's token: the same trace.
      const inside = await blendUnder(asMesh);
      expect(inside.blend.spanContext().traceId).toBe(inside.sent);
      expect(inside.blend.links).toEqual([]);
    } finally {
      asMesh.close();
    }
  });

  it('does not call a generator whose enable says no for this user, and reports it DISABLED', async () => {
    const withRule = new Set<string>();
    for (const name of generators) if ((await loadGeneratorModule(name)).enable) withRule.add(name);
    expect(withRule.size).toBeGreaterThan(0);
    spans.reset();
    // No history, no follows, no boards: nothing for the graph, co-engagement and follow generators to start from.
    const res = await callUnary(
      blender,
      'blend',
      { userId: 'someone_new_here', limit: 10, debug: false, requestId: '' },
      { timeoutMs: 5_000 },
    );
    const state = new Map(res.sources.map((s) => [s.generator, s]));
    for (const name of withRule) {
      expect(state.get(name), name).toMatchObject({ state: SourceState.SOURCE_STATE_DISABLED, latencyMs: 0 });
      expect(state.get(name)!.error).toMatch(/nothing to start from/);
    }
    expect(state.get('popular')?.state).toBe(SourceState.SOURCE_STATE_OK);
    expect(res.items.length).toBeGreaterThan(0);
    // Not called: no Generate was served for them in this Blend's trace.
    const served = spans
      .getFinishedSpans()
      .filter((s) => s.name === 'feedloom.v1.CandidateGenerator/Generate')
      .map((s) => String(s.attributes['feedloom.server']));
    for (const name of withRule)
      expect(
        served.some((server) => server.includes(name)),
        name,
      ).toBe(false);
    expect(served.some((server) => server.includes('popular'))).toBe(true);
  });

  it('exposes the named metrics to Prometheus', async () => {
    const response = await callUnary(
      blender,
      'blend',
      { userId: user, limit: 10, debug: false, requestId: '' },
      { timeoutMs: 5_000 },
    );
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    for (const name of [
      'rpc_server_duration',
      'rpc_client_duration',
      'feedloom_generator_duration',
      'feedloom_generator_candidates',
      'feedloom_blender_stage_duration',
      'feedloom_blender_candidates_returned',
      'feedloom_blender_candidates_kept',
      'feedloom_blender_page_items',
      'feedloom_blender_generator_quota',
      // The learned generators search the ANN hosts on every Blend.
      'feedloom_ann_search_duration',
      ...(response.ranking?.ranked ? ['feedloom_ranker_candidates', 'feedloom_ranker_duration'] : []),
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}`, 'm'));
    }
    expect(text).toMatch(/rpc_client_duration\w*\{[^}]*feedloom_generator="popular"/);
    expect(text).toMatch(/feedloom_blender_stage_duration\w*\{[^}]*stage="fan_out"/);
    // The quota each generator is asked for now: as configured, none of them having a latency target here.
    for (const g of config.generators)
      expect(text, g.name).toMatch(
        new RegExp(`^feedloom_blender_generator_quota\\{generator="${g.name}"\\} ${g.quota}$`, 'm'),
      );
  });
});

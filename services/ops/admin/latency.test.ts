import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latencyOf, type LatencyContext } from './latency.js';
import { ScrapeHistory } from './scrapes.js';
import type { Target } from './targets.js';

/** A histogram series in the exporter's format: `counts` per bucket bound (cumulative), sum in ms. */
function series(family: string, labels: string, buckets: [string, number][], sum: number): string {
  const count = buckets[buckets.length - 1][1];
  return [
    `${family}_count{${labels}} ${count}`,
    `${family}_sum{${labels}} ${sum}`,
    ...buckets.map(([le, n]) => `${family}_bucket{${labels},le="${le}"} ${n}`),
  ].join('\n');
}

/** A metrics endpoint whose text the test sets. */
async function endpoint(): Promise<{ url: string; set(text: string): void; server: Server }> {
  let text = '';
  const server = createServer((_req, res) => res.end(text));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, set: (t) => (text = t), server };
}

describe('latencyOf', () => {
  let blender: Awaited<ReturnType<typeof endpoint>>;
  let events: Awaited<ReturnType<typeof endpoint>>;
  beforeAll(async () => {
    blender = await endpoint();
    events = await endpoint();
  });
  afterAll(() => {
    blender.server.close();
    events.server.close();
  });

  const target = (name: string, role: Target['role'], grpcService: string, metricsUrl?: string): Target => ({
    name,
    role,
    grpcService,
    address: 'x:1',
    port: 1,
    metricsUrl,
  });
  const down = 'http://127.0.0.1:1/metrics';

  it("prefers the service's own endpoint, then the blender's view of a generator, then a shared endpoint; windows over two scrapes", async () => {
    const blenderText = (blends: number, popularOk: number, popularLate: number) =>
      [
        series(
          'rpc_server_duration',
          'rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0"',
          [
            ['10', 0],
            ['100', blends],
            ['+Inf', blends],
          ],
          50 * blends,
        ),
        series(
          'rpc_server_duration',
          'rpc_service="feedloom.v1.Ranker",rpc_method="Rank",rpc_grpc_status_code="0"',
          [
            ['10', 4],
            ['100', 4],
            ['+Inf', 4],
          ],
          8,
        ),
        series(
          'rpc_server_duration',
          'rpc_service="feedloom.v1.AnnSearch",rpc_method="Search",rpc_grpc_status_code="0",feedloom_server="ann.b"',
          [
            ['10', 1],
            ['+Inf', 1],
          ],
          3,
        ),
        series(
          'rpc_client_duration',
          'rpc_method="generate",feedloom_generator="popular",rpc_grpc_status_code="0"',
          [
            ['10', popularOk],
            ['100', popularOk],
            ['+Inf', popularOk],
          ],
          2 * popularOk,
        ),
        series(
          'rpc_client_duration',
          'rpc_method="generate",feedloom_generator="popular",rpc_grpc_status_code="4"',
          [
            ['10', 0],
            ['100', popularLate],
            ['+Inf', popularLate],
          ],
          60 * popularLate,
        ),
      ].join('\n');
    blender.set(blenderText(2, 10, 0));
    events.set(
      series(
        'rpc_server_duration',
        'rpc_service="feedloom.v1.Events",rpc_method="GetUserContext",rpc_grpc_status_code="0"',
        [
          ['10', 3],
          ['+Inf', 3],
        ],
        6,
      ),
    );

    const scrapes = new ScrapeHistory(60_000);
    const targets = {
      blender: target('blender', 'blender', 'feedloom.v1.Blender', blender.url),
      events: target('events', 'events', 'feedloom.v1.Events', events.url),
      popular: target('generator.popular', 'generator', 'feedloom.v1.CandidateGenerator', down),
      ranker: target('ranker', 'ranker', 'feedloom.v1.Ranker', down),
      annA: target('ann.a', 'ann', 'feedloom.v1.AnnSearch', down),
      annB: target('ann.b', 'ann', 'feedloom.v1.AnnSearch', down),
    };
    const ctx = (): LatencyContext => ({
      scrapes,
      blenderMetricsUrl: blender.url,
      metricsUrls: [blender.url, events.url],
      uniqueGrpcServices: new Set(['feedloom.v1.Blender', 'feedloom.v1.Events', 'feedloom.v1.Ranker']),
    });

    await scrapes.scrapeAll([blender.url, events.url, down], 1_000, 1_000);
    expect(scrapes.up.get(down)).toBe(false);
    expect(latencyOf(targets.blender, ctx())).toMatchObject({
      source: 'server',
      calls: 2,
      meanMs: 50,
      window: 'since start',
      errorShare: 0,
    });
    expect(latencyOf(targets.events, ctx())).toMatchObject({ source: 'server', calls: 3, meanMs: 2 });
    expect(latencyOf(targets.popular, ctx())).toMatchObject({ source: 'blender-client', calls: 10, meanMs: 2 });
    // The ranker runs once in the mesh: its server histogram on the blender's (shared) endpoint is its own.
    expect(latencyOf(targets.ranker, ctx())).toMatchObject({ source: 'server-shared', calls: 4, meanMs: 2 });
    // Two ANN hosts' (or generators') figures on a shared endpoint cannot be told apart: none…
    expect(latencyOf(targets.annA, ctx())).toBeUndefined();
    // …unless the series carry the server's name.
    expect(latencyOf(targets.annB, ctx())).toMatchObject({ source: 'server-shared', calls: 1, meanMs: 3 });

    // 30 s later: 4 more Blends, 10 more popular calls of which 5 ran out of time.
    blender.set(blenderText(6, 15, 5));
    await scrapes.scrapeAll([blender.url, events.url, down], 1_000, 31_000);
    expect(latencyOf(targets.blender, ctx())).toMatchObject({ calls: 4, meanMs: 50, window: 'last 30 s' });
    expect(latencyOf(targets.popular, ctx())).toMatchObject({
      calls: 10,
      meanMs: (2 * 5 + 60 * 5) / 10,
      errorShare: 0.5,
      lateShare: 0.5,
      window: 'last 30 s',
    });
    // No new calls in the window: the figures since start, said so.
    expect(latencyOf(targets.events, ctx())).toMatchObject({ calls: 3, window: 'since start' });
  });
});

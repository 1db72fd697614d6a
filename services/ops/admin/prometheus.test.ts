import { describe, expect, it } from 'vitest';
import { niceMax } from './charts.js';
import { histogramDelta, histogramOf, histogramQuantile, parsePrometheus, sumOf } from './prometheus.js';

// As OpenTelemetry's Prometheus exporter writes it (trimmed to three buckets).
const TEXT = `# HELP rpc_server_duration Duration of inbound RPCs
# UNIT rpc_server_duration ms
# TYPE rpc_server_duration histogram
rpc_server_duration_count{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0"} 8
rpc_server_duration_sum{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0"} 80
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0",le="5"} 2
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0",le="10"} 6
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="0",le="+Inf"} 8
rpc_server_duration_count{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="4"} 2
rpc_server_duration_sum{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="4"} 240
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="4",le="5"} 0
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="4",le="10"} 0
rpc_server_duration_bucket{rpc_service="feedloom.v1.Blender",rpc_method="Blend",rpc_grpc_status_code="4",le="+Inf"} 2
rpc_server_duration_count{rpc_service="feedloom.v1.Events",rpc_method="Log",rpc_grpc_status_code="0"} 1
rpc_server_duration_sum{rpc_service="feedloom.v1.Events",rpc_method="Log",rpc_grpc_status_code="0"} 1
rpc_server_duration_bucket{rpc_service="feedloom.v1.Events",rpc_method="Log",rpc_grpc_status_code="0",le="5"} 1
rpc_server_duration_bucket{rpc_service="feedloom.v1.Events",rpc_method="Log",rpc_grpc_status_code="0",le="10"} 1
rpc_server_duration_bucket{rpc_service="feedloom.v1.Events",rpc_method="Log",rpc_grpc_status_code="0",le="+Inf"} 1
feedloom_blender_page_items_total{generator="a \\"quoted\\", name",sole="true"} 3 1700000000000
`;

describe('Prometheus text', () => {
  const scrape = parsePrometheus(TEXT);
  const blender = (l: Record<string, string>) => l.rpc_service === 'feedloom.v1.Blender';

  it('parses samples with labels, escapes and timestamps, and skips comments', () => {
    expect(scrape.get('rpc_server_duration_count')).toHaveLength(3);
    expect(
      sumOf(
        scrape,
        'feedloom_blender_page_items_total',
        (l) => l.generator === 'a "quoted", name' && l.sole === 'true',
      ),
    ).toBe(3);
    expect(sumOf(scrape, 'no_such_metric')).toBeUndefined();
  });

  it('adds up the series a filter picks (here both status codes) into one histogram', () => {
    const h = histogramOf(scrape, 'rpc_server_duration', blender)!;
    expect(h).toEqual({
      buckets: [
        { le: 5, count: 2 },
        { le: 10, count: 6 },
        { le: Infinity, count: 10 },
      ],
      count: 10,
      sum: 320,
    });
    expect(histogramOf(scrape, 'rpc_server_duration', (l) => l.rpc_service === 'nope')).toBeUndefined();
  });

  it('computes quantiles as histogram_quantile does: interpolated in the bucket, +Inf answers the top bound', () => {
    const h = histogramOf(scrape, 'rpc_server_duration', blender)!;
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(5 + 5 * ((5 - 2) / 4));
    expect(histogramQuantile(h, 0.1)).toBeCloseTo(2.5);
    expect(histogramQuantile(h, 0.99)).toBe(10);
    expect(histogramQuantile({ buckets: [], count: 0, sum: 0 }, 0.5)).toBeNaN();
  });

  it('takes the difference of two scrapes, and treats a reset counter as a restart', () => {
    const before = histogramOf(scrape, 'rpc_server_duration', blender)!;
    const after = {
      buckets: before.buckets.map((b) => ({ le: b.le, count: b.count + 3 })),
      count: before.count + 3,
      sum: before.sum + 6,
    };
    expect(histogramDelta(after, before)).toEqual({
      buckets: [
        { le: 5, count: 3 },
        { le: 10, count: 3 },
        { le: Infinity, count: 3 },
      ],
      count: 3,
      sum: 6,
    });
    const restarted = { buckets: [{ le: 5, count: 1 }], count: 1, sum: 1 };
    expect(histogramDelta(restarted, before)).toBe(restarted);
  });
});

describe('niceMax', () => {
  it('rounds a scale up to 1, 2, 2.5 or 5 × 10^n', () => {
    expect([0.003, 0.87, 1, 3.2, 24, 2455].map(niceMax)).toEqual([0.005, 1, 1, 5, 25, 2500]);
    expect(niceMax(0)).toBe(1);
  });
});

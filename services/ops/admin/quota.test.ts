import { describe, expect, it } from 'vitest';
import { parseMeshConfig } from '../../../libs/config/mesh.js';
import { parsePrometheus } from './prometheus.js';
import { quotaOf } from './quota.js';

const mesh = parseMeshConfig({
  world: { dir: 'world' },
  services: { events: { port: 1 }, blender: { port: 2 } },
  generators: [
    { name: 'popular', port: 3, quota: 200, latencyTargetMs: 40 },
    { name: 'fresh', port: 4, quota: 100 },
  ],
});
const [popular, fresh] = mesh.generators;

describe('quotaOf', () => {
  it("reads the blender's gauge per generator, beside the configured quota and the latency target", () => {
    const scrape = parsePrometheus(
      '# TYPE feedloom_blender_generator_quota gauge\n' +
        'feedloom_blender_generator_quota{generator="popular"} 50\n' +
        'feedloom_blender_generator_quota{generator="fresh"} 100\n',
    );
    expect(quotaOf(popular, scrape)).toEqual({ configured: 200, current: 50, latencyTargetMs: 40 });
    expect(quotaOf(fresh, scrape)).toEqual({ configured: 100, current: 100, latencyTargetMs: undefined });
  });

  it('has no current quota without the gauge (an older blender, or its endpoint down)', () => {
    expect(quotaOf(popular, undefined)).toEqual({ configured: 200, current: undefined, latencyTargetMs: 40 });
    expect(quotaOf(fresh, parsePrometheus('other_metric 1\n')).current).toBeUndefined();
  });
});

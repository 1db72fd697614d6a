import { performance } from 'node:perf_hooks';
import { context, trace } from '@opentelemetry/api';
import type { StageTiming } from '../../generated/feedloom/v1/blender.js';
import { tracer } from '../../libs/bootstrap/telemetry.js';
import { countStage } from './blend-metrics.js';

/** Times each named stage, for metrics, spans and the debug trace. */
export class StageClock {
  readonly timings: StageTiming[] = [];
  async run<T>(stage: string, itemsIn: number, fn: () => T | Promise<T>, itemsOut: (r: T) => number): Promise<T> {
    const started = performance.now();
    const span = tracer().startSpan(`blend.${stage}`);
    try {
      // Active while it runs, so the stage's own calls (e.g. each generator) are its children.
      const result = await context.with(trace.setSpan(context.active(), span), fn);
      const ms = performance.now() - started;
      const out = itemsOut(result);
      const timing = { stage, ms, itemsIn, itemsOut: out };
      this.timings.push(timing);
      countStage(timing);
      span.setAttribute('feedloom.items_out', out);
      return result;
    } finally {
      span.end();
    }
  }
}

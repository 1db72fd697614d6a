// How late the main thread runs what is ready: a call that arrives now waits about this long before
// its handler runs (its bytes sit in the socket until the loop comes round), a wait that the
// handler's own clock never sees. One monitor per process, shared by every admission controller.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
/** The delay is read over windows of at least this long, so one slow turn does not decide alone. */
const WINDOW_MS = 200;

let histogram: IntervalHistogram | undefined;
let readAt = 0;
let last = 0;

/** The main thread's recent mean event-loop delay in ms (0 on an idle thread). */
export function loopDelayMs(): number {
  if (!histogram) {
    histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    histogram.enable();
    readAt = performance.now();
  }
  const now = performance.now();
  if (now - readAt >= WINDOW_MS) {
    // The histogram records the time between its timer's turns, so the resolution is its floor.
    last = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS) : 0;
    histogram.reset();
    readAt = now;
  }
  return last;
}

// V8 settings for a serving process, applied before its servers start.
import { setFlagsFromString } from 'node:v8';

/**
 * Turns off allocation-site pretenuring. Early in a run V8 may decide that a request path's
 * allocations outlive the young generation and allocate them in the old one from then on; a
 * Blend's candidates then filled the old space at ~35 MB/s at 22 Blends/s (in some runs, not
 * others) and a Mark-Compact came every ~8 s. Without it the growth was 5.5 MB/s in every run
 * (docs/BENCHMARKS.md, "What keeps a Blend's candidates alive past scavenges"). Flags are
 * process-wide: worker threads get them too.
 */
export function tuneGarbageCollector(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

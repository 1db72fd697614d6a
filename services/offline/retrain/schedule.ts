// The schedule mode of `feedloom retrain --every 6h`: a cycle, then the next one an interval after
// the previous one started (at once when a cycle ran longer than the interval), until stopped.

export { parseInterval } from '../../../libs/config/interval.js';

/**
 * Calls cycle() every intervalMs until signal aborts (the running cycle is finished first). A
 * cycle that throws is logged and the schedule goes on.
 */
export async function runEvery(
  intervalMs: number,
  cycle: () => Promise<void>,
  options: { signal: AbortSignal; log: (line: string) => void },
): Promise<void> {
  const { signal, log } = options;
  while (!signal.aborted) {
    const started = Date.now();
    try {
      await cycle();
    } catch (err) {
      log(`cycle failed: ${(err as Error).message}`);
    }
    const wait = Math.max(0, started + intervalMs - Date.now());
    if (signal.aborted) break;
    log(`next cycle at ${new Date(Date.now() + wait).toISOString()}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

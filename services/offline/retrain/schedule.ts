// The schedule mode of `feedloom retrain --every 6h`: a cycle, then the next one an interval after
// the previous one started (at once when a cycle ran longer than the interval), until stopped.

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "6h", "1d", "1.5h" → ms. */
export function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`--every must be a number with a unit s, m, h or d, e.g. 6h or 30m (got "${text}")`);
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  if (!(ms >= 1_000)) throw new Error(`--every must be at least 1s (got "${text}")`);
  return ms;
}

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

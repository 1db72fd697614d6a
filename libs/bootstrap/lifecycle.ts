import type { RunningServer } from './server.js';

/** Stops the given servers gracefully on SIGTERM or SIGINT, then runs `after` (e.g. flush telemetry). */
export function stopOnSignals(servers: () => RunningServer[], after?: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`received ${signal}; draining ${servers().length} server(s)`);
    await Promise.all(servers().map((s) => s.stop()));
    await after?.();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

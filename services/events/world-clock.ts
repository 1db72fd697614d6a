/**
 * The service's "now": time on the simulated world's clock, which starts where the world's data
 * ends (or where the live log left off, so time never runs backwards across restarts) and then
 * advances with the wall clock, `speed` simulated ms per wall ms (world.clockSpeed).
 */
export function worldClock(startsAtMs: number, speed = 1): () => number {
  const startedAt = performance.now();
  return () => Math.floor(startsAtMs + (performance.now() - startedAt) * speed);
}

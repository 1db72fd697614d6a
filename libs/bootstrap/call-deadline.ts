/**
 * A call's deadline in epoch ms as the server enforces it: the caller's (grpc-js gives a Date, or
 * Infinity when it set none), and no later than maxDeadlineMs from now, whatever the caller asked.
 */
export function callDeadline(raw: Date | number, maxDeadlineMs: number): number {
  return Math.min(raw instanceof Date ? raw.getTime() : Number(raw), Date.now() + maxDeadlineMs);
}

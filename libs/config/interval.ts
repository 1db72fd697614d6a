// Intervals as people write them in flags and in the mesh config: "90s", "30m", "6h", "1d", "1.5h".

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "6h", "1d", "1.5h" → ms; `what` names the flag or field in the error. */
export function parseInterval(text: string, what = '--every'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`${what} must be a number with a unit s, m, h or d, e.g. 6h or 30m (got "${text}")`);
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  if (!(ms >= 1_000)) throw new Error(`${what} must be at least 1s (got "${text}")`);
  return ms;
}

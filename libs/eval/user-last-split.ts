// The per-user time split: the last share of each user's interactions is held out.

export interface UserLastSplit {
  /** Share of each user's interactions held out, e.g. 0.2. */
  fraction: number;
}

/** Parses `user-last:0.2`. */
export function parseSplit(text: string): UserLastSplit {
  const match = /^user-last:(\d*\.?\d+)$/.exec(text.trim());
  const fraction = match ? Number(match[1]) : NaN;
  if (!(fraction > 0 && fraction < 1))
    throw new Error(`--split must be user-last:F with F between 0 and 1 exclusive, e.g. user-last:0.2 (got '${text}')`);
  return { fraction };
}

export const splitName = (split: UserLastSplit) => `user-last:${split.fraction}`;

/**
 * How many of a user's n interactions are held out: round(fraction · n), at least one, and at least
 * one kept for training (0 for users with fewer than two: they train and are not evaluated).
 */
export function heldOutCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
}

/** Splits one user's items, oldest first, into the training part and the held-out last share. */
export function splitUserItems<T>(ordered: readonly T[], fraction: number): { train: T[]; heldOut: T[] } {
  const cut = ordered.length - heldOutCount(ordered.length, fraction);
  return { train: ordered.slice(0, cut), heldOut: ordered.slice(cut) };
}

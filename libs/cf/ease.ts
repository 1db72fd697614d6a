// EASE (Steck 2019): a dense item × item linear model with a zero diagonal, in closed form:
//   P = (XᵀX + λI)⁻¹,  B = I − P·diag(1/diag(P)),  i.e. B_ij = −P_ij / P_jj off the diagonal.
// A user's scores are their binary row times B. Dense means n² doubles and n³ multiply-adds, so the
// catalog is bounded; the solve runs in LAPACK (ease_weights.py, OpenBLAS on every core): in
// JavaScript it took minutes per λ at 5k items. Used by the eval's baseline and by the
// ease_neighbors batch job (which serves each row's strongest weights to the ease generator).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { topK } from '../top-k/top-k.js';
import { runPython } from '../python/python.js';
import type { Interactions } from './interactions.js';

const SCRIPT = fileURLToPath(new URL('./ease_weights.py', import.meta.url));

/** Above this many items the dense model is refused (n² doubles: 3.2 GB at 20k). */
export const EASE_MAX_ITEMS = 20_000;

export class EaseRefused extends Error {}

/** Why EASE will not fit a catalog of n items, or undefined when it will. */
export function easeRefusal(n: number): string | undefined {
  if (n <= EASE_MAX_ITEMS) return undefined;
  return `EASE refused: the training matrix has ${n.toLocaleString('en-US')} items, above the dense limit of ${EASE_MAX_ITEMS.toLocaleString('en-US')} (it would need ${((8 * n * n) / 2 ** 30).toFixed(1)} GiB per n×n matrix)`;
}

export class Ease {
  private constructor(
    readonly items: number,
    readonly lambda: number,
    /** B, row-major n × n. */
    private readonly b: Float64Array,
  ) {}

  /** Fits B on m's users × items; `threads`: OpenBLAS's (default every core); `log`: the solve's timing line. */
  static async fit(
    m: Interactions,
    lambda: number,
    o: { threads?: number; log?: (line: string) => void } = {},
  ): Promise<Ease> {
    const n = m.items.length;
    const refusal = easeRefusal(n);
    if (refusal) throw new EaseRefused(refusal);
    if (!(lambda > 0)) throw new Error(`EASE: λ must be positive (got ${lambda})`);
    if (n === 0) return new Ease(0, lambda, new Float64Array(0));
    const dir = await mkdtemp(path.join(os.tmpdir(), 'feedloom-ease-'));
    try {
      const file = (name: string) => path.join(dir, name);
      // Raw little-endian int32 (the machine's order: x86 and arm64 are little-endian).
      await writeFile(
        file('user_start.i32'),
        new Uint8Array(m.userStart.buffer, m.userStart.byteOffset, m.userStart.byteLength),
      );
      await writeFile(
        file('user_items.i32'),
        new Uint8Array(m.userItems.buffer, m.userItems.byteOffset, m.userItems.byteLength),
      );
      // String(λ) is the shortest text that reads back as the same double.
      await runPython(
        SCRIPT,
        [
          ...['--user-start', file('user_start.i32'), '--user-items', file('user_items.i32')],
          ...['--items', String(n), '--lambda', String(lambda), '--out', file('b.f64')],
        ],
        { threads: o.threads ?? os.availableParallelism(), log: o.log },
      );
      return new Ease(n, lambda, readFloat64(file('b.f64'), n * n));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Row i of B pruned to its k largest positive weights, best first (ties by index): what item i's
   * presence adds to each other item's score.
   */
  neighbors(i: number, k: number): { item: number; weight: number }[] {
    const row = this.b.subarray(i * this.items, (i + 1) * this.items);
    return topK(row, k, { skip: (w) => !(w > 0) }).map((item) => ({ item, weight: row[item] }));
  }

  /** Scores of every item for a user who interacted with the given items (matrix indices): Σ_i B[i][·]. */
  scores(userItems: ArrayLike<number>): Float64Array {
    const n = this.items;
    const scores = new Float64Array(n);
    for (let p = 0; p < userItems.length; p++) {
      const ri = userItems[p] * n;
      for (let j = 0; j < n; j++) scores[j] += this.b[ri + j];
    }
    return scores;
  }
}

/** A raw little-endian float64 file of exactly `count` values, read in pieces (it can pass 2 GiB). */
function readFloat64(file: string, count: number): Float64Array {
  const out = new Float64Array(count);
  const bytes = new Uint8Array(out.buffer);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size !== bytes.byteLength) throw new Error(`EASE: ${file} has ${size} bytes, expected ${bytes.byteLength}`);
    for (let at = 0; at < bytes.byteLength;) {
      const read = readSync(fd, bytes, at, Math.min(2 ** 30, bytes.byteLength - at), at);
      if (read === 0) throw new Error(`EASE: ${file} ended at byte ${at}`);
      at += read;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

// The last offline evaluation of the served world, as `feedloom eval` leaves it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvalRowView, EvalView } from './status.js';

/** Where `feedloom eval` keeps its last report (written by services/ops/cli/eval.ts, read here). */
export const lastEvalPath = (worldDir: string) => join(worldDir, 'eval', 'last.json');

const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
/** A `@K` → number record (recall, true@K ÷oracle, …); anything else in it is dropped. */
const byK = (x: unknown): Record<string, number> =>
  Object.fromEntries(
    Object.entries(typeof x === 'object' && x ? (x as Record<string, unknown>) : {}).filter(
      ([, v]) => typeof v === 'number',
    ) as [string, number][],
  );

/** true@K ÷oracle, when the report has it (simulated worlds, reports from after the honest oracle). */
const trueOf = (raw: Record<string, unknown>) =>
  raw.trueVsOracle === undefined ? {} : { trueVsOracle: byK(raw.trueVsOracle) };

function rowOf(raw: Record<string, unknown>): EvalRowView {
  return {
    name: String(raw.name ?? '?'),
    kind: String(raw.kind ?? ''),
    recall: byK(raw.recall),
    coverage: num(raw.coverage),
    overlap: num(raw.overlap),
    marginal: num(raw.marginal),
    p50Ms: num(raw.p50Ms),
    p99Ms: num(raw.p99Ms),
    errors: num(raw.errors),
    ...trueOf(raw),
  };
}

/** Reads <world>/eval/last.json; a missing or unreadable file is reported, not thrown. */
export async function readLastEval(worldDir: string): Promise<EvalView> {
  const path = lastEvalPath(worldDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return {
      available: false,
      path,
      reason: missing
        ? 'no evaluation of this world yet: run `npx feedloom eval`'
        : `cannot read it: ${(err as Error).message}`,
    };
  }
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    if (!Array.isArray(raw.generators) || !Array.isArray(raw.ks) || !raw.ks.some((k) => typeof k === 'number'))
      throw new Error('it has no "generators" or "ks" list');
    const blend = raw.blend as Record<string, unknown> | undefined;
    const oracle = raw.oracle as Record<string, unknown> | undefined;
    return {
      available: true,
      path,
      finishedAt: typeof raw.finishedAt === 'string' ? raw.finishedAt : undefined,
      world: String(raw.world ?? ''),
      testDay: String(raw.testDay ?? ''),
      users: num(raw.users),
      ks: (raw.ks as unknown[]).filter((k): k is number => typeof k === 'number').sort((a, b) => a - b),
      generators: (raw.generators as Record<string, unknown>[]).map(rowOf),
      blend: blend ? { recall: byK(blend.recall), coverage: num(blend.coverage), ...trueOf(blend) } : undefined,
      oracle: oracle
        ? { recall: byK(oracle.recall), ...(oracle.trueAtK === undefined ? {} : { trueAtK: byK(oracle.trueAtK) }) }
        : undefined,
    };
  } catch (err) {
    return { available: false, path, reason: `not a report \`feedloom eval\` wrote: ${(err as Error).message}` };
  }
}

// One Generate answered from loaded snapshot data: the part of serving a generator that runs where
// its data lives (the gRPC server's thread, or a worker thread of the generator pool).
import { setTimeout as sleep } from 'node:timers/promises';
import type { UserContext, Candidate } from '../../generated/feedloom/v1/common.js';
import type { GenerateResponse } from '../../generated/feedloom/v1/generator.js';
import type { LoadedData } from '../data/snapshot-source.js';
import type { GenerateInput, GenerateResult, GeneratorModule } from './define.js';

/** Keeps the first proposal of each item, drops empty ids and non-finite scores, caps at the quota. */
export function normalizeCandidates(candidates: Candidate[], quota: number): Candidate[] {
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const c of candidates) {
    if (out.length >= quota) break;
    if (!c.itemId || seen.has(c.itemId) || !Number.isFinite(c.score)) continue;
    seen.add(c.itemId);
    // The generator's own object when it has a reason: an answer is only ever encoded, so no copy per candidate.
    out.push(c.reason == null ? { itemId: c.itemId, score: c.score, reason: '' } : c);
  }
  return out;
}

const candidatesOf = (result: GenerateResult) =>
  Array.isArray(result) ? { candidates: result, modelVersion: '' } : { modelVersion: '', ...result };

/** The module's answer to one request, normalized, with the snapshot versions it was answered from. */
export async function answerGenerate<Data>(
  module: GeneratorModule<Data>,
  loaded: LoadedData<Data>,
  settings: Record<string, unknown>,
  input: GenerateInput,
  signal: AbortSignal,
): Promise<GenerateResponse> {
  const result = candidatesOf(await module.generate(input, { data: loaded.data, settings, signal }));
  return {
    generator: module.name,
    candidates: normalizeCandidates(result.candidates, input.quota),
    snapshotVersion: Object.values(loaded.versions).join(','),
    modelVersion: result.modelVersion ?? '',
  };
}

const WARM_UP_ROUNDS = 5;
/** A warm-up call that takes longer than this is left behind: the generator serves anyway. */
const WARM_UP_CALL_MS = 5_000;

/** A few calls of the module's generate for each synthetic viewer, awaited; their errors do not matter. */
export async function warmUp<Data>(
  module: GeneratorModule<Data>,
  data: Data,
  settings: Record<string, unknown>,
  users: UserContext[],
): Promise<void> {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    await Promise.all(
      users.map(async (user) => {
        // One signal per call, as real calls have.
        const signal = AbortSignal.timeout(WARM_UP_CALL_MS);
        const call = Promise.resolve()
          .then(() => module.generate({ user, quota: 50, requestId: 'warm-up' }, { data, settings, signal }))
          .catch(() => {});
        const late = sleep(WARM_UP_CALL_MS, undefined, { ref: false });
        await Promise.race([call, late]);
      }),
    );
  }
}

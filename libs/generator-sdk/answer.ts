// One Generate answered from loaded snapshot data: the part of serving a generator that runs where
// its data lives (the gRPC server's thread, or a worker thread of the generator pool).
import { UserContext, type Candidate } from '../../generated/feedloom/v1/common.js';
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
    out.push({ itemId: c.itemId, score: c.score, reason: c.reason ?? '' });
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

const WARM_UP_CALLS = 20;

/** Runs the hot path on an empty user a few times, so the first real request is not the slow one. */
export function warmUp<Data>(module: GeneratorModule<Data>, data: Data, settings: Record<string, unknown>): void {
  const user = UserContext.fromPartial({ userId: '__warm_up__', requestTimeMs: Date.now() });
  for (let i = 0; i < WARM_UP_CALLS; i++) {
    // One signal per call, as real calls have: 20 calls listening on one signal trip Node's leak warning.
    const signal = new AbortController().signal;
    try {
      void Promise.resolve(
        module.generate({ user, quota: 50, requestId: 'warm-up' }, { data, settings, signal }),
      ).catch(() => {});
    } catch {
      // a generator that cannot answer an empty user still gets served; its errors show on real calls
    }
  }
}

import { status as grpcStatus } from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { UserContext } from '../../../generated/feedloom/v1/common.js';
import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import type { CandidateGeneratorClient } from '../../../generated/feedloom/v1/generator.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { codeOf } from '../../../libs/bootstrap/errors.js';
import type { SourceAnswer } from './types.js';

export interface GeneratorEndpoint {
  name: string;
  client: CandidateGeneratorClient;
  enabled: boolean;
  quota: number;
  deadlineMs: number;
}

function stateOf(err: unknown): SourceState {
  const code = codeOf(err);
  if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) return SourceState.SOURCE_STATE_TIMEOUT;
  if (code === grpcStatus.UNAVAILABLE) return SourceState.SOURCE_STATE_UNAVAILABLE;
  return SourceState.SOURCE_STATE_FAILED;
}

/**
 * Stage 2: asks every enabled generator at once, each under its own deadline (and never past the
 * whole fan-out's budget). A late or failed generator is dropped and its status recorded; it never
 * fails the request.
 */
export function fanOut(
  endpoints: GeneratorEndpoint[],
  user: UserContext,
  options: { budgetMs: number; requestId: string; signal?: AbortSignal },
): Promise<SourceAnswer[]> {
  return Promise.all(
    endpoints.map(async (g): Promise<SourceAnswer> => {
      const base = { generator: g.name, candidates: 0, latencyMs: 0, error: '', snapshotVersion: '', modelVersion: '' };
      if (!g.enabled) return { status: { ...base, state: SourceState.SOURCE_STATE_DISABLED }, candidates: [] };
      const started = performance.now();
      try {
        const response = await callUnary(
          g.client,
          'generate',
          { user, quota: g.quota, requestId: options.requestId },
          { timeoutMs: Math.min(g.deadlineMs, options.budgetMs), requestId: options.requestId, signal: options.signal, attributes: { 'feedloom.generator': g.name } },
        );
        return {
          status: {
            ...base,
            state: SourceState.SOURCE_STATE_OK,
            candidates: response.candidates.length,
            latencyMs: performance.now() - started,
            snapshotVersion: response.snapshotVersion,
            modelVersion: response.modelVersion,
          },
          candidates: response.candidates,
        };
      } catch (err) {
        const message = (err as { details?: string }).details || (err as Error).message;
        return { status: { ...base, state: stateOf(err), latencyMs: performance.now() - started, error: message }, candidates: [] };
      }
    }),
  );
}

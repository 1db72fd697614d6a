import { makeGenericClientConstructor, status as grpcStatus } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { performance } from 'node:perf_hooks';
import { UserContext } from '../../../generated/feedloom/v1/common.js';
import { SourceState } from '../../../generated/feedloom/v1/blender.js';
import {
  CandidateGeneratorClient,
  CandidateGeneratorService,
  type GenerateRequest,
} from '../../../generated/feedloom/v1/generator.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { codeOf, messageOf } from '../../../libs/bootstrap/errors.js';
import type { SourceAnswer } from '../../../libs/blend/types.js';
import type { AdaptiveQuota } from '../../../libs/blend/adaptive-quota.js';

export interface GeneratorEndpoint {
  name: string;
  client: CandidateGeneratorClient;
  enabled: boolean;
  /** Its module's per-request rule (GeneratorDefinition.enable): false, and this request does not call it. */
  enable?: (user: UserContext) => boolean;
  /** Its configured quota. */
  quota: number;
  deadlineMs: number;
  /** With a latency target (latencyTargetMs): the quota it is asked for now, fed each call's latency. */
  adaptiveQuota?: AdaptiveQuota;
}

// Every generator of one Blend is sent the same UserContext object: encode it once, not once per
// generator (it carries up to 100 actions and the seen items; 22 encodes were ~3% of a Blend's CPU).
const encodedUsers = new WeakMap<UserContext, Uint8Array>();

/** GenerateRequest on the wire, with the user's bytes reused across the fan-out (same bytes as GenerateRequest.encode). */
export function encodeGenerateRequest(request: GenerateRequest): Buffer {
  const writer = new BinaryWriter();
  if (request.user) {
    let user = encodedUsers.get(request.user);
    if (!user) {
      user = UserContext.encode(request.user).finish();
      encodedUsers.set(request.user, user);
    }
    writer.uint32(10).bytes(user);
  }
  if (request.quota !== 0) writer.uint32(16).int32(request.quota);
  if (request.requestId !== '') writer.uint32(26).string(request.requestId);
  return Buffer.from(writer.finish());
}

/** The CandidateGenerator client the blender fans out with: the generated one, with encodeGenerateRequest. */
export const FanOutGeneratorClient = makeGenericClientConstructor(
  {
    ...CandidateGeneratorService,
    generate: { ...CandidateGeneratorService.generate, requestSerialize: encodeGenerateRequest },
  },
  'feedloom.v1.CandidateGenerator',
) as unknown as typeof CandidateGeneratorClient;

function stateOf(err: unknown): SourceState {
  const code = codeOf(err);
  if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) return SourceState.SOURCE_STATE_TIMEOUT;
  if (code === grpcStatus.UNAVAILABLE) return SourceState.SOURCE_STATE_UNAVAILABLE;
  return SourceState.SOURCE_STATE_FAILED;
}

/**
 * Stage 2: asks every enabled generator at once. A generator's deadline is where the Blend stops
 * waiting for it once another source has answered with candidates: a late or failed generator is dropped and
 * its status recorded; it never fails the request. While no source has answered, the late ones
 * keep going until the fan-out's budget and are dropped when the first answer comes in: a moment
 * in which the machine ran none of them must not empty the page.
 */
export function fanOut(
  endpoints: GeneratorEndpoint[],
  user: UserContext,
  options: { budgetMs: number; requestId: string; signal?: AbortSignal },
): Promise<SourceAnswer[]> {
  let firstAnswered!: () => void;
  const answered = new Promise<void>((resolve) => (firstAnswered = resolve));
  // Which step of its adaptive quota each generator is asked at (read with its quota, before any call).
  const askedAt = endpoints.map((g) => g.adaptiveQuota?.version ?? 0);
  const asking = Promise.all(
    endpoints.map(async (g): Promise<SourceAnswer> => {
      const base = { generator: g.name, candidates: 0, latencyMs: 0, error: '', snapshotVersion: '', modelVersion: '' };
      if (!g.enabled) return { status: { ...base, state: SourceState.SOURCE_STATE_DISABLED }, candidates: [] };
      if (g.enable && !g.enable(user))
        return {
          status: { ...base, state: SourceState.SOURCE_STATE_DISABLED, error: 'nothing to start from for this user' },
          candidates: [],
        };
      const started = performance.now();
      const deadlineMs = Math.min(g.deadlineMs, options.budgetMs);
      const call = new AbortController();
      const cancel = () => call.abort();
      options.signal?.addEventListener('abort', cancel, { once: true });
      let late = false;
      const timer = setTimeout(
        () =>
          void answered.then(() => {
            late = true;
            call.abort();
          }),
        deadlineMs,
      );
      try {
        const response = await callUnary(
          g.client,
          'generate',
          { user, quota: g.adaptiveQuota?.quotaOf(g.quota) ?? g.quota, requestId: options.requestId },
          {
            timeoutMs: options.budgetMs,
            requestId: options.requestId,
            signal: call.signal,
            attributes: { 'feedloom.generator': g.name },
          },
        );
        if (response.candidates.length > 0) firstAnswered();
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
        const latencyMs = performance.now() - started;
        if (late)
          return {
            status: {
              ...base,
              state: SourceState.SOURCE_STATE_TIMEOUT,
              latencyMs,
              error: `no answer within its deadline of ${deadlineMs} ms`,
            },
            candidates: [],
          };
        return { status: { ...base, state: stateOf(err), latencyMs, error: messageOf(err) }, candidates: [] };
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', cancel);
      }
    }),
  );
  return asking.then((answers) => {
    feedAdaptiveQuotas(endpoints, answers, askedAt, options.signal);
    return answers;
  });
}

/**
 * Each adaptive quota gets its call's latency: an answer's, or a late call's until it was cut (a
 * failure says nothing about speed). Not when the Blend itself was given up: its calls were cut short.
 */
function feedAdaptiveQuotas(
  endpoints: GeneratorEndpoint[],
  answers: SourceAnswer[],
  askedAt: number[],
  signal: AbortSignal | undefined,
): void {
  if (signal?.aborted) return;
  endpoints.forEach((g, i) => {
    const { state, latencyMs } = answers[i].status;
    if (state === SourceState.SOURCE_STATE_OK || state === SourceState.SOURCE_STATE_TIMEOUT)
      g.adaptiveQuota?.record(latencyMs, askedAt[i]);
  });
}

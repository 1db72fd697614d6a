// Generate requests and answers handed between the main thread and a generator's worker thread as
// protobuf bytes. The main thread neither decodes a pooled generator's request nor encodes its
// answer: the worker does both, and the bytes cross the thread boundary as one buffer each, instead
// of a structured clone of the user context and of ~100 candidates per call.
import { CandidateGeneratorService, GenerateRequest, GenerateResponse } from '../../generated/feedloom/v1/generator.js';
import { invalidArgument } from '../bootstrap/errors.js';
import { requestWithSharedUser } from './shared-user-context.js';
import { validateGenerateRequest, validateRequestFields } from './validate.js';

/** A Generate request as it arrived; decoded and validated only where it is answered. */
export class ReceivedGenerateRequest {
  private request?: GenerateRequest;
  constructor(readonly bytes: Uint8Array) {}
  decoded(): GenerateRequest {
    return (this.request ??= decodeGenerateRequest(this.bytes));
  }
}

/** Decodes and validates a request: INVALID_ARGUMENT naming the field, or saying it is not a request. */
export function decodeGenerateRequest(bytes: Uint8Array): GenerateRequest {
  const shared = requestWithSharedUser(bytes);
  if (shared) return validateRequestFields(shared);
  let request: GenerateRequest;
  try {
    request = GenerateRequest.decode(bytes);
  } catch (err) {
    throw invalidArgument(
      'request',
      `is not a valid ${CandidateGeneratorService.generate.path} request message (${(err as Error).message})`,
    );
  }
  return validateGenerateRequest(request);
}

/** A copy of bytes in a buffer of their own, so it can be transferred to another thread. */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes instanceof Buffer)
    ? bytes
    : new Uint8Array(bytes);
}

export class EncodedGenerateResponse {
  constructor(
    readonly bytes: Uint8Array,
    readonly candidateCount: number,
    readonly modelVersion: string,
  ) {}
}

/** Candidates and model version of an answer, encoded or not (for spans and metrics). */
export function answerFacts(answer: GenerateResponse | EncodedGenerateResponse): {
  candidates: number;
  modelVersion: string;
} {
  return answer instanceof EncodedGenerateResponse
    ? { candidates: answer.candidateCount, modelVersion: answer.modelVersion }
    : { candidates: answer.candidates.length, modelVersion: answer.modelVersion };
}

/**
 * CandidateGeneratorService as a generator serves it: Generate hands its handler the request's bytes
 * (ReceivedGenerateRequest), and sends an EncodedGenerateResponse's bytes unchanged.
 */
export const GeneratorServiceDefinition = {
  ...CandidateGeneratorService,
  generate: {
    ...CandidateGeneratorService.generate,
    requestDeserialize: (bytes: Buffer): ReceivedGenerateRequest => new ReceivedGenerateRequest(bytes),
    responseSerialize: (value: GenerateResponse | EncodedGenerateResponse): Buffer =>
      value instanceof EncodedGenerateResponse
        ? Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength)
        : CandidateGeneratorService.generate.responseSerialize(value),
  },
} as const;

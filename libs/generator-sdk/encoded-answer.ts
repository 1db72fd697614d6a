// A Generate answer already encoded to protobuf by a worker thread. The main thread sends its bytes
// as they are, instead of receiving the message as a structured clone and encoding it again: on a
// Blend's ~2,000 candidates that was most of the main thread's encoding work.
import { CandidateGeneratorService, GenerateResponse } from '../../generated/feedloom/v1/generator.js';

export class EncodedGenerateResponse {
  constructor(
    readonly bytes: Uint8Array,
    readonly candidateCount: number,
    readonly modelVersion: string,
  ) {}
}

/** Encodes an answer into bytes that own their whole buffer, so the buffer can be transferred. */
export function encodeGenerateResponse(response: GenerateResponse): Uint8Array {
  const bytes = GenerateResponse.encode(response).finish();
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
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

/** CandidateGeneratorService, whose Generate also sends an EncodedGenerateResponse's bytes unchanged. */
export const GeneratorServiceDefinition = {
  ...CandidateGeneratorService,
  generate: {
    ...CandidateGeneratorService.generate,
    responseSerialize: (value: GenerateResponse | EncodedGenerateResponse): Buffer =>
      value instanceof EncodedGenerateResponse
        ? Buffer.from(value.bytes.buffer, value.bytes.byteOffset, value.bytes.byteLength)
        : CandidateGeneratorService.generate.responseSerialize(value),
  },
} as const;

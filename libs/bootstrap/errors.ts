import { status } from '@grpc/grpc-js';

/** An error meant for the caller: a gRPC status code and a message a person can act on. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const invalidArgument = (field: string, rule: string) =>
  new RpcError(status.INVALID_ARGUMENT, `${field}: ${rule}`);
export const failedPrecondition = (message: string) => new RpcError(status.FAILED_PRECONDITION, message);
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
export const unavailable = (message: string) => new RpcError(status.UNAVAILABLE, message);
export const deadlineExceeded = (message: string) => new RpcError(status.DEADLINE_EXCEEDED, message);
export const resourceExhausted = (message: string) => new RpcError(status.RESOURCE_EXHAUSTED, message);

/** The gRPC code of anything thrown: grpc-js ServiceErrors and RpcErrors keep theirs. */
export function codeOf(err: unknown): status {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' && code >= 0 && code <= 16 ? code : status.UNKNOWN;
}

/**
 * What went wrong, in words: a grpc-js ServiceError's details (its message repeats them behind the
 * code, "14 UNAVAILABLE: …"), else the error's message.
 */
export function messageOf(err: unknown): string {
  const details = (err as { details?: unknown } | undefined)?.details;
  if (typeof details === 'string' && details) return details;
  return err instanceof Error ? err.message : String(err);
}

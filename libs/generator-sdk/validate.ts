import type { GenerateRequest } from '../../generated/feedloom/v1/generator.js';
import { validateUserContext } from '../bootstrap/user-context.js';
import { optionalId, requireIntInRange } from '../bootstrap/validate.js';

export const MAX_QUOTA = 10_000;

export function validateGenerateRequest(request: GenerateRequest): GenerateRequest {
  validateUserContext('user', request.user);
  return validateRequestFields(request);
}

/** The fields besides the user (for a request whose user was validated already). */
export function validateRequestFields(request: GenerateRequest): GenerateRequest {
  requireIntInRange('quota', request.quota, 1, MAX_QUOTA);
  optionalId('request_id', request.requestId);
  return request;
}

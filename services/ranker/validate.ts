import type { RankRequest } from '../../generated/feedloom/v1/ranker.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { optionalId, requireId, requireIntInRange, requireMaxItems } from '../../libs/bootstrap/validate.js';
import { validateUserContext } from '../../libs/bootstrap/user-context.js';

export const MAX_CANDIDATES = 2_000;
const MAX_SOURCES_PER_CANDIDATE = 64;
const MAX_RANK = 1_000_000;

/** Checks a Rank request field by field; the first problem is INVALID_ARGUMENT naming its field. */
export function validateRankRequest(request: RankRequest): RankRequest {
  validateUserContext('user', request.user);
  requireMaxItems('candidates', request.candidates, MAX_CANDIDATES, 1);
  const firstAt = new Map<string, number>();
  request.candidates.forEach((c, i) => {
    requireId(`candidates[${i}].item_id`, c.itemId);
    const first = firstAt.get(c.itemId);
    if (first !== undefined)
      throw invalidArgument(
        `candidates[${i}].item_id`,
        `repeats "${c.itemId}" (already candidates[${first}]); item ids must be distinct`,
      );
    firstAt.set(c.itemId, i);
    requireMaxItems(`candidates[${i}].sources`, c.sources, MAX_SOURCES_PER_CANDIDATE);
    c.sources.forEach((s, j) => {
      requireId(`candidates[${i}].sources[${j}].generator`, s.generator);
      requireIntInRange(`candidates[${i}].sources[${j}].rank`, s.rank, 0, MAX_RANK);
    });
  });
  optionalId('request_id', request.requestId);
  return request;
}

import type { RankRequest } from '../../generated/feedloom/v1/ranker.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import { optionalId, requireId, requireIntInRange, requireMaxItems } from '../../libs/bootstrap/validate.js';
import { validateUserContext } from '../../libs/bootstrap/user-context.js';
import { versionNumber } from '../../libs/registry/index.js';

export const MAX_CANDIDATES = 2_000;
const MAX_SOURCES_PER_CANDIDATE = 64;
const MAX_RANK = 1_000_000;

/**
 * Runs a check, naming the field by its path only when it fails: a request carries hundreds of
 * candidates with their sources, and building every path was most of this function's garbage.
 */
function checkWithPath(check: (field: string) => unknown, path: () => string): void {
  try {
    check('');
  } catch {
    check(path());
  }
}

/** Checks a Rank request field by field; the first problem is INVALID_ARGUMENT naming its field. */
export function validateRankRequest(request: RankRequest): RankRequest {
  validateUserContext('user', request.user);
  requireMaxItems('candidates', request.candidates, MAX_CANDIDATES, 1);
  const firstAt = new Map<string, number>();
  request.candidates.forEach((c, i) => {
    checkWithPath(
      (field) => requireId(field, c.itemId),
      () => `candidates[${i}].item_id`,
    );
    const first = firstAt.get(c.itemId);
    if (first !== undefined)
      throw invalidArgument(
        `candidates[${i}].item_id`,
        `repeats "${c.itemId}" (already candidates[${first}]); item ids must be distinct`,
      );
    firstAt.set(c.itemId, i);
    checkWithPath(
      (field) => requireMaxItems(field, c.sources, MAX_SOURCES_PER_CANDIDATE),
      () => `candidates[${i}].sources`,
    );
    c.sources.forEach((s, j) => {
      checkWithPath(
        (field) => requireId(field, s.generator),
        () => `candidates[${i}].sources[${j}].generator`,
      );
      checkWithPath(
        (field) => requireIntInRange(field, s.rank, 0, MAX_RANK),
        () => `candidates[${i}].sources[${j}].rank`,
      );
    });
  });
  optionalId('request_id', request.requestId);
  if (request.modelVersion && versionNumber(request.modelVersion) === undefined)
    throw invalidArgument(
      'model_version',
      `must be empty (the serving version) or a version name such as v0003 (got "${request.modelVersion.slice(0, 40)}")`,
    );
  return request;
}

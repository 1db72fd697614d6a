import type { RankCandidate, RankRequest } from '../../generated/feedloom/v1/ranker.js';
import { invalidArgument } from '../../libs/bootstrap/errors.js';
import {
  checkNamingOnFailure,
  entry,
  optionalId,
  requireId,
  requireIntInRange,
  requireMaxItems,
  sub,
} from '../../libs/bootstrap/validate.js';
import { validateUserContext } from '../../libs/bootstrap/user-context.js';
import { versionNumber } from '../../libs/registry/index.js';

export const MAX_CANDIDATES = 2_000;
const MAX_SOURCES_PER_CANDIDATE = 64;
const MAX_RANK = 1_000_000;

/** One candidate's fields; `path` is '' on the unnamed pass, which builds no path strings. */
function checkCandidate(path: string, c: RankCandidate): void {
  requireId(sub(path, 'item_id'), c.itemId);
  requireMaxItems(sub(path, 'sources'), c.sources, MAX_SOURCES_PER_CANDIDATE);
  for (let j = 0; j < c.sources.length; j++) {
    const s = c.sources[j];
    const at = entry(path, 'sources', j);
    requireId(sub(at, 'generator'), s.generator);
    requireIntInRange(sub(at, 'rank'), s.rank, 0, MAX_RANK);
  }
}

/** Checks a Rank request field by field; the first problem is INVALID_ARGUMENT naming its field. */
export function validateRankRequest(request: RankRequest): RankRequest {
  validateUserContext('user', request.user);
  requireMaxItems('candidates', request.candidates, MAX_CANDIDATES, 1);
  const ids = new Set<string>();
  checkNamingOnFailure('candidates', (path) => {
    ids.clear();
    request.candidates.forEach((c, i) => {
      checkCandidate(path && `candidates[${i}]`, c);
      if (ids.has(c.itemId)) {
        const first = request.candidates.findIndex((d) => d.itemId === c.itemId);
        throw invalidArgument(
          `candidates[${i}].item_id`,
          `repeats "${c.itemId}" (already candidates[${first}]); item ids must be distinct`,
        );
      }
      ids.add(c.itemId);
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

import { SourceState, sourceStateToJSON } from '../../../generated/feedloom/v1/blender.js';
import { unavailable } from '../../../libs/bootstrap/errors.js';
import type { SourceAnswer } from '../../../libs/blend/types.js';
import { sourceAsked } from '../../../libs/blend/source-state.js';

/**
 * After the fan-out: when no generator answered OK, an empty page would look like "nothing to
 * show" while every source failed. The Blend fails instead, UNAVAILABLE, with each source's reason
 * (and the hydrate warning, which is often the common cause).
 */
export function requireASourceOk(answers: SourceAnswer[], hydrateWarning: string | undefined): void {
  if (answers.some((a) => a.status.state === SourceState.SOURCE_STATE_OK)) return;
  const asked = answers.filter((a) => sourceAsked(a.status));
  const reasons = asked.map(
    (a) =>
      `${a.status.generator}: ${sourceStateToJSON(a.status.state).replace('SOURCE_STATE_', '')} (${a.status.error || 'no reason given'})`,
  );
  const why = asked.length === 0 ? 'no generator is enabled' : `no candidate source answered OK: ${reasons.join('; ')}`;
  throw unavailable(hydrateWarning ? `${why}; ${hydrateWarning}` : why);
}

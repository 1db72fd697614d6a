// What a source's state on a Blend says about the mesh. DISABLED is no trouble: the config switched
// the generator off, or its per-request rule said the user gives it nothing to start from.
import { SourceState } from '../../generated/feedloom/v1/blender.js';

/** A source the Blend asked: not DISABLED (by the config, or by its per-request rule). */
export const sourceAsked = (s: { state: SourceState }) => s.state !== SourceState.SOURCE_STATE_DISABLED;

/** A source that was asked and did not answer in time or at all: timed out, failed, unavailable. */
export const sourceFailed = (s: { state: SourceState }) => sourceAsked(s) && s.state !== SourceState.SOURCE_STATE_OK;

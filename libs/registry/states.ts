// The lifecycle of a model version and the transitions the registry allows between its states.

export const MODEL_STATES = [
  'training',
  'trained',
  'validated',
  'rejected',
  'published',
  'serving',
  'retired',
  'rolled_back',
] as const;
export type ModelState = (typeof MODEL_STATES)[number];

/**
 * Allowed transitions, from → to:
 *   training → trained | rejected           (a run whose export fails its checks is rejected)
 *   trained → validated | rejected          (offline validation against the serving version)
 *   validated → published                   (only a validated version is published)
 *   published → serving | retired | rolled_back  (rolled out, superseded, or refused by a canary)
 *   serving → retired | rolled_back         (superseded, or taken back by a rollback)
 *   rolled_back → serving                   (roll-forward again after a fix elsewhere)
 *   retired → serving                       (a rollback reinstates the previous version)
 */
export const TRANSITIONS: Readonly<Record<ModelState, readonly ModelState[]>> = {
  training: ['trained', 'rejected'],
  trained: ['validated', 'rejected'],
  validated: ['published'],
  rejected: [],
  published: ['serving', 'retired', 'rolled_back'],
  serving: ['retired', 'rolled_back'],
  retired: ['serving'],
  rolled_back: ['serving'],
};

/** States whose versions prune() never deletes: something serves them or is about to. */
export const PROTECTED_STATES: readonly ModelState[] = ['published', 'serving'];

export function isModelState(value: unknown): value is ModelState {
  return typeof value === 'string' && (MODEL_STATES as readonly string[]).includes(value);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly where: string,
    readonly from: ModelState,
    readonly to: ModelState,
  ) {
    const allowed = TRANSITIONS[from];
    super(
      `${where}: illegal state transition ${from} → ${to} ` +
        `(from ${from} the allowed next states are ${allowed.length ? allowed.join(', ') : 'none: it is final'})`,
    );
    this.name = 'IllegalTransitionError';
  }
}

/** Throws IllegalTransitionError naming both states unless from → to is allowed. */
export function assertTransition(where: string, from: ModelState, to: ModelState): void {
  if (!TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(where, from, to);
}

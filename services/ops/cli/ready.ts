import { setTimeout as sleep } from 'node:timers/promises';
import { SourceState, sourceStateToJSON, type BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import { fetchFeed } from './feed.js';

export interface ReadyOptions {
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** Pause between probe rounds (default 250 ms). */
  pauseMs?: number;
}

export interface Readiness {
  ready: boolean;
  /** Probe rounds sent. */
  rounds: number;
  /** Sources that were not OK in the last round, with their state and error ("" when ready). */
  failing: string[];
  elapsedMs: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** Sources of one Blend that were not OK, as "name (STATE: error)"; a failed Blend is one "blend (…)" entry. */
function notOk(answer: BlendResponse | Error): string[] {
  if (answer instanceof Error) return [`blend (${answer.message})`];
  return answer.sources
    .filter((s) => s.state !== SourceState.SOURCE_STATE_OK)
    .map(
      (s) =>
        `${s.generator} (${sourceStateToJSON(s.state).replace('SOURCE_STATE_', '')}${s.error ? `: ${s.error}` : ''})`,
    );
}

/**
 * Ready means every enabled source answers in time: probe Blends for `users` (all in one round)
 * until one round has every source of every Blend OK within its deadline, or until the timeout,
 * when the answer names the sources still failing.
 */
export async function waitForFullBlends(
  blenderAddress: string,
  users: string[],
  options: ReadyOptions = {},
): Promise<Readiness> {
  const started = Date.now();
  const until = started + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let rounds = 0;
  for (;;) {
    rounds++;
    const answers = await Promise.all(
      users.map((user) => fetchFeed(blenderAddress, user, { limit: 10, timeoutMs: 10_000 }).catch((err: Error) => err)),
    );
    const failing = [...new Set(answers.flatMap(notOk))];
    const elapsedMs = Date.now() - started;
    if (failing.length === 0) return { ready: true, rounds, failing, elapsedMs };
    if (Date.now() >= until) return { ready: false, rounds, failing, elapsedMs };
    await sleep(options.pauseMs ?? 250);
  }
}

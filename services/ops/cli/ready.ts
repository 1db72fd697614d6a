import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelSecurity } from '../../../libs/bootstrap/client.js';
import { sourceStateToJSON, type BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import { fetchFeed } from './feed.js';
import { sourceFailed } from '../../../libs/blend/source-state.js';

export interface ReadyOptions {
  /** TLS of the probe Blends (security.tls), when configured. */
  channel?: ChannelSecurity;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** Pause between probe rounds (default 250 ms). */
  pauseMs?: number;
  /** Rounds in a row with every source OK that make it ready (default 2: one could be luck on a loaded machine). */
  inARow?: number;
  /** Told every 10 s of waiting which sources failed the last round. */
  onWait?: (failing: string[], elapsedMs: number) => void;
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
const NOTE_EVERY_MS = 10_000;

/** Sources of one Blend that were not OK, name → "name (STATE: error)"; a failed Blend is one "blend (…)" entry. */
function notOk(answer: BlendResponse | Error): [string, string][] {
  if (answer instanceof Error) return [['blend', `blend (${answer.message})`]];
  return answer.sources
    .filter(sourceFailed)
    .map((s) => [
      s.generator,
      `${s.generator} (${sourceStateToJSON(s.state).replace('SOURCE_STATE_', '')}${s.error ? `: ${s.error}` : ''})`,
    ]);
}

/**
 * Ready means every enabled source answers in time: probe Blends for `users` (a round: one Blend
 * per user, one after the other) until `inARow` rounds in a row have every source of every Blend OK
 * within its deadline, or until the timeout, when the answer names the sources still failing.
 */
export async function waitForFullBlends(
  blenderAddress: string,
  users: string[],
  options: ReadyOptions = {},
): Promise<Readiness> {
  const started = Date.now();
  const until = started + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let rounds = 0;
  let nextNote = NOTE_EVERY_MS;
  let okInARow = 0;
  for (;;) {
    rounds++;
    // One Blend at a time, as a first visitor's: probes at once would compete for the cores themselves.
    // One entry per source (its last failure): the same timeout is worded differently call to call.
    const failingBySource = new Map<string, string>();
    for (const user of users) {
      const answer = await fetchFeed(blenderAddress, user, {
        limit: 10,
        timeoutMs: 10_000,
        channel: options.channel,
      }).catch((err: Error) => err);
      for (const [source, why] of notOk(answer)) failingBySource.set(source, why);
    }
    const elapsedMs = Date.now() - started;
    const failing = [...failingBySource.values()];
    okInARow = failing.length === 0 ? okInARow + 1 : 0;
    if (okInARow >= (options.inARow ?? 2)) return { ready: true, rounds, failing: [], elapsedMs };
    if (Date.now() >= until) return { ready: okInARow > 0, rounds, failing, elapsedMs };
    if (elapsedMs >= nextNote) {
      options.onWait?.(failing, elapsedMs);
      nextNote += NOTE_EVERY_MS;
    }
    await sleep(options.pauseMs ?? 250);
  }
}

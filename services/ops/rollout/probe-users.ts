// The users a rollout probes a version with: their hydrated context from the events service, minus
// their newest engagements, which the version should then find again (a recall probe on recent
// engagements that needs no offline data set).
import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import type { MeshClients } from './mesh-clients.js';

export interface ProbeUser {
  /** The context with the held-out items taken out of its actions and seen items. */
  context: UserContext;
  /** The user's newest clicked or saved items, taken out of the context. */
  heldOut: string[];
}

const ENGAGED = new Set([ActionType.ACTION_TYPE_CLICK, ActionType.ACTION_TYPE_SAVE]);
/** A probe user keeps at least this many engagements after the holdout (a history to embed). */
const MIN_HISTORY = 3;

/** Probe users: rollout.probeUsers, or else the most engaged users of the log's last day. */
export async function probeUsers(clients: MeshClients, worldDir: string): Promise<ProbeUser[]> {
  const { probeUsers: listed, probeUserCount, probeHoldout } = clients.mesh.rollout;
  const ids = listed.length ? listed : await mostEngagedUsers(worldDir, probeUserCount * 2);
  const out: ProbeUser[] = [];
  for (const userId of ids) {
    if (out.length >= probeUserCount) break;
    const context = await callUnary(
      clients.events(),
      'getUserContext',
      { userId, maxActions: 100 },
      { timeoutMs: 10_000 },
    );
    const probe = holdOut(context, probeHoldout);
    if (probe) out.push(probe);
  }
  if (out.length === 0)
    throw new Error(
      `no probe user has more than ${probeHoldout + MIN_HISTORY} clicks or saves (rollout.probeUsers / the event log of ${worldDir})`,
    );
  return out;
}

/** Takes the newest `n` engaged items out of the context; undefined when too little history would remain. */
export function holdOut(context: UserContext, n: number): ProbeUser | undefined {
  const heldOut: string[] = [];
  for (const a of context.recentActions) {
    if (heldOut.length >= n) break;
    if (ENGAGED.has(a.type) && !heldOut.includes(a.itemId)) heldOut.push(a.itemId);
  }
  const gone = new Set(heldOut);
  const recentActions = context.recentActions.filter((a) => !gone.has(a.itemId));
  if (heldOut.length < n || recentActions.filter((a) => ENGAGED.has(a.type)).length < MIN_HISTORY) return undefined;
  return {
    context: { ...context, recentActions, seenItems: context.seenItems.filter((id) => !gone.has(id)) },
    heldOut,
  };
}

async function mostEngagedUsers(worldDir: string, n: number): Promise<string[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir);
    const rows = await queryRows<{ user_id: string }>(
      duck.conn,
      `WITH last AS (SELECT max(time_ms) AS t FROM events)
       SELECT user_id FROM events, last
       WHERE action IN ('click', 'save') AND time_ms >= last.t - 86400000
       GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT ${Math.max(1, Math.floor(n))}`,
    );
    return rows.map((r) => r.user_id);
  } finally {
    duck.close();
  }
}

// `simulate --live`: the simulator's users on a running mesh. Each session waits for its time on
// the world clock (world.clockSpeed simulated ms per wall ms), asks the blender for a feed over
// gRPC, lets the user react by the simulator's engagement model (LiveWorld), and logs the
// impressions and actions through Events.Log under one idempotency key per session, so a retried
// batch is written once.
import { ActionType } from '../../../generated/feedloom/v1/common.js';
import { BlenderClient, type BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import { EventsClient, type Event, type LogRequest } from '../../../generated/feedloom/v1/events.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';
import { meshChannelOf } from '../../../libs/bootstrap/mesh-security.js';
import { addressOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { LiveWorld, type LiveAction, type LiveSession } from '../../../libs/data/simulator/index.js';
import { dayKey } from '../../../libs/data/world.js';
import { DayTally, type DayStats } from './daily-stats.js';

export interface LiveSimulationOptions {
  mesh: MeshConfig;
  /** Simulated days to play, from the world clock's current day on. */
  days: number;
  /** How many of the world's users play (a seeded choice); all by default. */
  users?: number;
  /** Mean sessions per user per simulated day; the simulator's own activity by default. */
  rate?: number;
  seed: number;
  /** Sessions in flight at once. */
  concurrency?: number;
  /** Where the blender and events service listen, when not at the config's ports (a mesh on free ports). */
  addresses?: { blender: string; events: string };
  log?: (line: string) => void;
  onDay?: (stats: DayStats) => void;
  /** Each session as played: its feed and the Log request sent for it (none when nothing was shown). */
  onSession?: (session: LiveSession, feed: BlendResponse, logged?: LogRequest) => void;
}

/** The most items a page has: the simulator's sessions scroll 10 to 30 slots. */
const PAGE_LIMIT = 30;
const BLEND_TIMEOUT_MS = 10_000;
const LOG_ATTEMPTS = 3;

const ACTION_TYPE: Record<LiveAction['action'], ActionType> = {
  impression: ActionType.ACTION_TYPE_IMPRESSION,
  click: ActionType.ACTION_TYPE_CLICK,
  save: ActionType.ACTION_TYPE_SAVE,
  hide: ActionType.ACTION_TYPE_HIDE,
};

/** Plays `days` simulated days against the mesh; resolves with each day's stats. */
export async function runLiveSimulation(options: LiveSimulationOptions): Promise<DayStats[]> {
  const { mesh, seed } = options;
  const log = options.log ?? (() => {});
  const speed = mesh.world.clockSpeed;
  const world = await LiveWorld.open(mesh.world.dir, seed);
  // Outside callers, over the network even when the mesh runs in this process (tests).
  const addresses = options.addresses ?? {
    blender: addressOf(mesh, mesh.services.blender),
    events: addressOf(mesh, mesh.services.events),
  };
  const blender = connect(BlenderClient, addresses.blender, { ...meshChannelOf(mesh), inProcess: false });
  const events = connect(EventsClient, addresses.events, { ...meshChannelOf(mesh), inProcess: false });
  try {
    const clock = await meshClock(events, speed);
    const runId = `live-${seed}-${clock.now()}`;
    const firstDay = world.dayOf(clock.now());
    log(
      `simulate --live: ${options.users ?? 'all'} users, ${options.days} day(s) from ${dayKey(clock.now())}, ` +
        `clock ${speed}× (a simulated day in ${formatWall(86_400_000 / speed)})`,
    );
    const all: DayStats[] = [];
    for (let day = firstDay; day < firstDay + options.days; day++) {
      // The first day is joined at the clock's time of day (its row covers the rest of it); later
      // days are played whole, late sessions late.
      const startedAt = day === firstDay ? clock.now() : world.dayStartMs(day);
      const sessions = world.sessionsOf(day, options.users, options.rate).filter((s) => s.startMs >= startedAt);
      const joinedMidway = startedAt - world.dayStartMs(day) > 60_000;
      const tally = new DayTally(
        dayKey(world.dayStartMs(day)),
        joinedMidway ? new Date(startedAt).toISOString().slice(11, 16) : undefined,
      );
      const play = async (session: LiveSession) => {
        await clock.until(session.startMs);
        const shownAtMs = Math.max(session.startMs, clock.now());
        const requestId = `${runId}-${session.userId}-${day}-${session.index}`;
        let feed: BlendResponse;
        try {
          feed = await callUnary(
            blender,
            'blend',
            { userId: session.userId, limit: PAGE_LIMIT, debug: false, requestId },
            { timeoutMs: BLEND_TIMEOUT_MS, requestId },
          );
        } catch (err) {
          tally.failed();
          log(`  blend for ${session.userId} failed: ${(err as Error).message}`);
          return;
        }
        const actions = world.react(
          session,
          feed.items.map((i) => i.itemId),
          shownAtMs,
        );
        const logged = actions.length > 0 ? logRequestOf(requestId, session, feed, actions) : undefined;
        if (logged) await logWithRetries(events, logged);
        tally.served(feed, actions, shownAtMs - session.startMs);
        options.onSession?.(session, feed, logged);
      };
      await inOrderWithLimit(sessions, options.concurrency ?? 4, play);
      const stats = tally.result();
      all.push(stats);
      options.onDay?.(stats);
    }
    return all;
  } finally {
    blender.close();
    events.close();
  }
}

/** One Log call per session, keyed by the session: a retry is answered, not written again. */
function logRequestOf(
  key: string,
  session: LiveSession,
  feed: BlendResponse,
  actions: readonly LiveAction[],
): LogRequest {
  const sourceOf = new Map(feed.items.map((i) => [i.itemId, i.sources[0]?.generator ?? '']));
  return {
    idempotencyKey: key,
    events: actions.map((a): Event => ({
      userId: session.userId,
      itemId: a.itemId,
      action: ACTION_TYPE[a.action],
      timeMs: a.timeMs,
      boardId: a.boardId ?? '',
      source: sourceOf.get(a.itemId) ?? '',
      requestId: key,
    })),
  };
}

async function logWithRetries(events: EventsClient, request: LogRequest): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await callUnary(events, 'log', request, { timeoutMs: 5_000 });
      return;
    } catch (err) {
      if (attempt >= LOG_ATTEMPTS)
        throw new Error(`Log of session ${request.idempotencyKey} failed ${attempt} times: ${(err as Error).message}`);
    }
  }
}

/** The world clock as the events service keeps it: read once, then advanced at the configured speed. */
async function meshClock(events: EventsClient, speed: number) {
  const context = await callUnary(
    events,
    'getUserContext',
    // Any user will do: only the context's request time is read.
    { userId: 'u0', maxActions: 1 },
    { timeoutMs: 5_000 },
  );
  const base = Number(context.requestTimeMs);
  const at = performance.now();
  const now = () => Math.floor(base + (performance.now() - at) * speed);
  return {
    now,
    /** Resolves once the world clock has reached timeMs. */
    async until(timeMs: number): Promise<void> {
      const waitMs = (timeMs - now()) / speed;
      if (waitMs > 0) await new Promise((r) => setTimeout(r, Math.ceil(waitMs)));
    },
  };
}

/** Starts each task in list order, at most `limit` running at once; resolves when all are done. */
async function inOrderWithLimit<T>(list: readonly T[], limit: number, task: (t: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const item of list) {
    if (running.size >= limit) await Promise.race(running);
    const p: Promise<void> = task(item).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
}

function formatWall(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}

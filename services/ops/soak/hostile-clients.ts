// A hostile-client soak (issue 16): while Blends flow at a steady rate, clients send each attack of
// the security audit in a loop — ids that empty a feed, names and ids that grow a server's memory,
// times that plant data or move the clock, floods that queue work. It reports how the Blends fared
// and what each attack was answered; the caller reads each process's memory around it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { status, type ServiceError } from '@grpc/grpc-js';
import { AnnSearchClient } from '../../../generated/feedloom/v1/ann.js';
import { BlenderClient, SourceState } from '../../../generated/feedloom/v1/blender.js';
import { ActionType, type UserContext } from '../../../generated/feedloom/v1/common.js';
import { EventsClient, type Event } from '../../../generated/feedloom/v1/events.js';
import { ViewerModelClient } from '../../../generated/feedloom/v1/viewer.js';
import { HealthClient } from '../../../generated/grpc/health/v1/health.js';
import { callUnary, connect } from '../../../libs/bootstrap/client.js';

export interface SoakTargets {
  blender: string;
  events: string;
  viewer?: string;
  /** ANN hosts (one is enough). */
  ann?: string[];
  /** Every server whose Health service is watched with made-up names. */
  servers: string[];
}

export interface SoakOptions {
  seconds: number;
  /** Blends per second from well-behaved callers. */
  blendRate: number;
  /** Each well-behaved Blend's deadline (default 5 s). */
  blendDeadlineMs?: number;
  /** Users the well-behaved Blends are for. */
  users: string[];
  /** Loops per attack running at once (0: the Blends alone, a baseline to compare against). */
  attackLoops?: number;
}

export interface SoakReport {
  blends: {
    sent: number;
    withItems: number;
    empty: number;
    failed: number;
    failures: Record<string, number>;
    /** The first message of each failure code. */
    samples: Record<string, string>;
  };
  /** Per attack: calls made and how they were answered (gRPC status names). */
  attacks: Record<string, { calls: number; answers: Record<string, number> }>;
}

/** everyMs: at most one call per this many ms (default: back to back). */
type Attack = { name: string; once: () => Promise<unknown>; everyMs?: number };

const T = (ms: number) => ({ timeoutMs: ms });
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const click = (userId: string, itemId: string, timeMs = 0): Event => ({
  userId,
  itemId,
  action: ActionType.ACTION_TYPE_CLICK,
  timeMs,
  boardId: '',
  source: '',
  requestId: '',
});
const DAY = 86_400_000;

/** One call per attack of the audit, each a fresh instance of it (new ids, new names). */
async function attacks(targets: SoakTargets, users: string[]): Promise<{ list: Attack[]; close: () => void }> {
  const blender = connect(BlenderClient, targets.blender, { inProcess: false });
  const events = connect(EventsClient, targets.events, { inProcess: false });
  const viewer = targets.viewer ? connect(ViewerModelClient, targets.viewer, { inProcess: false }) : undefined;
  const ann = targets.ann?.length ? connect(AnnSearchClient, targets.ann[0], { inProcess: false }) : undefined;
  const health = targets.servers.map((a) => connect(HealthClient, a, { inProcess: false }));
  const user = () => users[Math.floor(Math.random() * users.length)];
  const now = () => Date.now();

  const list: Attack[] = [
    // A 300-character x-request-id once made every generator refuse the Blend's fan-out. Paced:
    // back to back, these Blends are a second feed at the mesh's whole capacity, a load test that
    // shedding answers by refusing some Blends (docs/SECURITY.md), not a test of the header.
    {
      name: 'blend with a 300-character x-request-id',
      everyMs: 500,
      once: () =>
        callUnary(
          blender,
          'blend',
          { userId: user(), limit: 20, debug: false, requestId: '' },
          { ...T(5_000), requestId: 'x'.repeat(300) },
        ),
    },
    // Health Watch kept an entry per caller-chosen name.
    {
      name: 'health Watch on made-up service names',
      once: () =>
        new Promise<void>((resolve, reject) => {
          const client = health[Math.floor(Math.random() * health.length)];
          const call = client.watch({ service: `made-up-${hex(32)}` }, { deadline: now() + 2_000 });
          call.on('data', () => call.cancel());
          call.on('error', (err: ServiceError) => (err.code === status.CANCELLED ? resolve() : reject(err)));
          call.on('end', () => resolve());
        }),
    },
    // Every new user, item and board id was interned forever.
    {
      name: 'Log 1000 events on new user and item ids',
      once: () =>
        callUnary(
          events,
          'log',
          {
            idempotencyKey: '',
            events: Array.from({ length: 1000 }, () => click(`intruder-${hex(16)}`, `junk-${hex(16)}`)),
          },
          T(10_000),
        ),
    },
    // Idempotency keys kept their events' full ids (up to 100k keys of ~1 MB).
    {
      name: 'Log with a new idempotency key and long ids',
      once: () =>
        callUnary(
          events,
          'log',
          {
            idempotencyKey: `key-${hex(32)}`,
            events: Array.from({ length: 200 }, () => click(user(), 'k'.repeat(120))),
          },
          T(10_000),
        ),
    },
    // One Log call could touch 1000 days back to 2000 (a directory and fsyncs per day).
    {
      name: 'Log events on 1000 different days',
      once: () =>
        callUnary(
          events,
          'log',
          {
            idempotencyKey: '',
            events: Array.from({ length: 1000 }, (_, d) => click(user(), `old-${d}`, now() - (d + 1) * DAY)),
          },
          T(10_000),
        ),
    },
    // An event ahead of the clock moved the clock of every restart.
    {
      name: 'Log an event 30 days ahead',
      once: () =>
        callUnary(events, 'log', { idempotencyKey: '', events: [click(user(), 'future', now() + 30 * DAY)] }, T(5_000)),
    },
    // A user's whole history to anyone (issue 16, item 1 puts it behind a credential).
    {
      name: 'GetUserContext of other users',
      once: () => callUnary(events, 'getUserContext', { userId: user(), maxActions: 1000 }, T(5_000)),
    },
  ];
  if (viewer) {
    const versions = (await callUnary(viewer, 'listVersions', { model: 'two_tower' }, T(5_000))).versions;
    const v = versions[0];
    const context = (userId: string): UserContext =>
      ({
        userId,
        recentActions: [],
        followedCreators: [],
        followedBoards: [],
        topics: [],
        locale: '',
        requestTimeMs: now(),
        ownBoards: [],
        blockedCreators: [],
        seenItems: [],
      }) as unknown as UserContext;
    // The user tower's queue was unbounded and ran requests whose caller had gone.
    list.push({
      name: 'EmbedUser floods with 1 ms deadlines',
      once: () =>
        Promise.allSettled(
          Array.from({ length: 50 }, () =>
            callUnary(
              viewer,
              'embedUser',
              { user: context(user()), model: v?.model ?? 'two_tower', version: v?.version ?? '' },
              T(1),
            ),
          ),
        ),
    });
  }
  if (ann) {
    const served = (await callUnary(ann, 'getVersions', {}, T(5_000))).models[0];
    // ANN Search raised efSearch to k + excluded items (up to ~12,000) with no in-flight limit.
    if (served)
      list.push({
        name: 'ANN Search with k 2000 and 10000 excluded items',
        once: () =>
          callUnary(
            ann,
            'search',
            {
              model: served.model,
              version: served.servingVersion,
              vector: Array.from({ length: served.dim }, () => Math.random() - 0.5),
              k: 2000,
              excludeItems: Array.from({ length: 10_000 }, (_, i) => `x${i}`),
              efSearch: 0,
              nprobe: 0,
            },
            T(5_000),
          ),
      });
  }
  const close = () => [blender, events, viewer, ann, ...health].forEach((c) => c?.close());
  return { list, close };
}

const codeName = (err: unknown) => {
  const code = (err as ServiceError)?.code;
  return code === undefined ? 'ERROR' : (status[code] ?? String(code));
};

/** Runs the soak for options.seconds; every attack loops while Blends flow at blendRate. */
export async function runHostileSoak(targets: SoakTargets, options: SoakOptions): Promise<SoakReport> {
  const { list, close } = await attacks(targets, options.users);
  const feed = connect(BlenderClient, targets.blender, { inProcess: false });
  const report: SoakReport = {
    blends: { sent: 0, withItems: 0, empty: 0, failed: 0, failures: {}, samples: {} },
    attacks: {},
  };
  const end = Date.now() + options.seconds * 1000;
  const loops = list.flatMap((attack) =>
    Array.from({ length: options.attackLoops ?? 1 }, async () => {
      const tally = (report.attacks[attack.name] ??= { calls: 0, answers: {} });
      while (Date.now() < end) {
        const started = Date.now();
        tally.calls++;
        const answer = await attack.once().then(
          () => 'OK',
          (err) => codeName(err),
        );
        tally.answers[answer] = (tally.answers[answer] ?? 0) + 1;
        const wait = Math.min(end, started + (attack.everyMs ?? 0)) - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }),
  );
  const blends: Promise<void>[] = [];
  const interval = 1000 / options.blendRate;
  for (let next = Date.now(); next < end; next += interval) {
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    report.blends.sent++;
    const userId = options.users[report.blends.sent % options.users.length];
    blends.push(
      callUnary(
        feed,
        'blend',
        { userId, limit: 20, debug: false, requestId: '' },
        T(options.blendDeadlineMs ?? 5_000),
      ).then(
        (r) => {
          if (r.items.length > 0) return void report.blends.withItems++;
          report.blends.empty++;
          // Why the page was empty: each source's state (and the warnings), the first time.
          report.blends.samples.EMPTY ??= [
            ...r.sources.map(
              (src) => `${src.generator} ${SourceState[src.state]}${src.error ? ` (${src.error})` : ''}`,
            ),
            ...r.warnings,
          ].join('; ');
        },
        (err) => {
          report.blends.failed++;
          const name = codeName(err);
          report.blends.failures[name] = (report.blends.failures[name] ?? 0) + 1;
          report.blends.samples[name] ??= (err as ServiceError).details ?? String(err);
        },
      ),
    );
  }
  await Promise.all([...blends, ...loops]);
  feed.close();
  close();
  return report;
}

/**
 * services.events.maxIds in a soak: the new-ids attack adds 2,000 ids a call and reaches it within
 * the warm-up, so the soak measures the cap holding, not memory growing towards the default 5M.
 */
export const SOAK_MAX_IDS = 20_000;

/** A mesh config trimmed for the soak: two heuristic generators and two_tower (with its viewer and ANN hosts), no ranker. */
export function soakMesh(raw: { generators: { name: string }[]; services: Record<string, unknown> }): void {
  raw.generators = raw.generators.filter((g) => ['popular', 'item_cooccurrence', 'two_tower'].includes(g.name));
  delete raw.services.ranker;
  // One process per service: the blender, alone in its process, admits the Blend concurrency for
  // that topology (8; the config leaves it unset). With the all-in-one 2 it refused 20–42 of 600
  // Blends while the attackers' clients took CPU on this 2-core machine.
}

/** The soak's targets among a running mesh's component addresses (gRPC servers only, not the status page). */
export function soakTargets(addresses: ReadonlyMap<string, string>): SoakTargets {
  const grpc = [...addresses].filter(([name]) => /^(events|blender|viewer|ranker|ann\.|generator\.)/.test(name));
  return {
    blender: addresses.get('blender')!,
    events: addresses.get('events')!,
    viewer: addresses.get('viewer'),
    ann: grpc.filter(([name]) => name.startsWith('ann.')).map(([, a]) => a),
    servers: grpc.map(([, a]) => a),
  };
}

/** Resident memory of a process, in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * Samples each process's RSS every `everyMs` until stopped. A process's RSS swings by tens of MB
 * with its garbage collections, so one reading at each end says little: the soak compares the
 * highest reading of the warm-up round with the median of the last readings.
 */
export function sampleRss(pids: ReadonlyMap<string, number>, everyMs = 500): { stop(): Map<string, number[]> } {
  const samples = new Map([...pids.keys()].map((name) => [name, [] as number[]]));
  const read = () => {
    for (const [name, pid] of pids) {
      const mb = rssOrNaN(pid);
      if (Number.isFinite(mb)) samples.get(name)!.push(mb);
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      return samples;
    },
  };
}

const rssOrNaN = (pid: number) => {
  try {
    return rssMb(pid);
  } catch {
    return Number.NaN; // the process has exited
  }
};

/** Per process: the highest RSS of the warm-up readings, and the median of the last readings. */
export function rssGrowth(
  warm: ReadonlyMap<string, number[]>,
  last: ReadonlyMap<string, number[]>,
): { process: string; startMb: number; endMb: number }[] {
  return [...warm].map(([process, mb]) => {
    const end = [...(last.get(process) ?? [])].sort((a, b) => a - b);
    return { process, startMb: Math.max(...mb), endMb: end.length ? end[Math.floor(end.length / 2)] : Number.NaN };
  });
}

/**
 * The soak as measured: a warm-up round of the same soak, then the soak, with each process's RSS
 * sampled throughout; growth compares the warm-up's highest reading with the median of the soak's
 * last `lastSeconds` (rssGrowth).
 */
export async function soakWithMemory(
  targets: SoakTargets,
  pids: ReadonlyMap<string, number>,
  options: SoakOptions & { warmSeconds: number; lastSeconds: number },
): Promise<{ warm: SoakReport; report: SoakReport; growth: ReturnType<typeof rssGrowth> }> {
  const warmSampler = sampleRss(pids);
  const warm = await runHostileSoak(targets, { ...options, seconds: options.warmSeconds });
  const warmReadings = warmSampler.stop();
  let last = sampleRss(pids);
  const lastWindow = setTimeout(
    () => (last.stop(), (last = sampleRss(pids))),
    Math.max(0, options.seconds - options.lastSeconds) * 1000,
  );
  const report = await runHostileSoak(targets, options);
  clearTimeout(lastWindow);
  return { warm, report, growth: rssGrowth(warmReadings, last.stop()) };
}

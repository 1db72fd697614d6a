// The blender's pre-score order on the ranker's held-out sessions: which of the mesh's generators
// would have proposed each shown item, at what rank, and how the blender's own stages (dedupe, then
// pre_score with the mesh config's weights) would have ordered the session's items. The ranker's
// evaluation compares its models with this order (issue 5).
//
// The generators are served for real (all-in-one mesh on snapshots and learned models built only
// from the days before the held-out day, the same as-of folders `feedloom eval` uses), and each is
// asked once per held-out session with the user's context at the session's start: the context as
// of the day start, plus the user's clicks, saves and hides earlier that day.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActionType, type Action, type UserContext } from '../../../generated/feedloom/v1/common.js';
import type { Proposal } from '../../../generated/feedloom/v1/blender.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { HEADS, SEQ_LEN, type ScoredSession, type ValRequests, type ValSession } from '../../../libs/ranking/index.js';
import { dedupe } from '../../../libs/blend/dedupe.js';
import { policyFromConfig } from '../../../libs/blend/policy.js';
import { preScore } from '../../../libs/blend/pre-score.js';
import type { BlendCandidate, SourceAnswer } from '../../../libs/blend/types.js';
import { prepareAsOf } from './prepare-as-of.js';
import { serveGenerators } from './serve-generators.js';

const DAY_MS = 86_400_000;
/** Action code in val_requests.json (1 click, 2 save, 3 hide) → ActionType. */
const ACTION_TYPE_OF_CODE = [
  ActionType.ACTION_TYPE_UNSPECIFIED,
  ActionType.ACTION_TYPE_CLICK,
  ActionType.ACTION_TYPE_SAVE,
  ActionType.ACTION_TYPE_HIDE,
];

/** Per held-out session, per shown item (in page order): the mesh generators that proposed it and the rank each gave it. */
export type SessionProposals = Proposal[][];

export interface PreScoreReplay {
  /** The generators asked (the mesh's enabled ones), and the weights and k pre_score used. */
  generators: string[];
  weights: Record<string, number>;
  rrfK: number;
  asOfMs: number;
  /** Parallel to val.sessions. */
  proposals: SessionProposals[];
  /** Shown items some generator proposed, of all shown items. */
  proposed: number;
  impressions: number;
}

/** Each shown item's proposals (generator, rank) among the generators' answers, merged by the blender's dedupe stage. */
export function proposalsOfShown(itemIds: readonly string[], answers: SourceAnswer[]): SessionProposals {
  const shown = new Set(itemIds);
  const proposedById = new Map(
    dedupe(answers)
      .filter((c) => shown.has(c.itemId))
      .map((c) => [c.itemId, c.proposals]),
  );
  return itemIds.map((id) =>
    (proposedById.get(id) ?? []).map((p) => ({ generator: p.generator, rank: p.rank, score: p.score, reason: '' })),
  );
}

/**
 * The place (0 = first) of each shown item in the blender's pre_score order: the sum over its
 * proposals of weight / (k + rank + 1), best first, ties by item id. Items no generator proposed
 * score 0 and come last (by item id).
 */
export function preScorePlaces(
  itemIds: readonly string[],
  proposals: SessionProposals,
  weights: ReadonlyMap<string, number>,
  rrfK: number,
): number[] {
  const byId = new Map<string, BlendCandidate>();
  itemIds.forEach(
    (itemId, i) => byId.has(itemId) || byId.set(itemId, { itemId, proposals: proposals[i], preScore: 0 }),
  );
  const ordered = preScore([...byId.values()], weights, rrfK);
  const placeOf = new Map(ordered.map((c, i) => [c.itemId, i]));
  return itemIds.map((id) => placeOf.get(id)!);
}

/**
 * Pre-score order as scores on the held-out sessions, for heldoutMetrics: minus the place, like the
 * position baseline's minus the slot, so the first item of every session scores alike.
 */
export function preScoreSessions(
  val: ValRequests,
  replay: Pick<PreScoreReplay, 'proposals' | 'weights' | 'rrfK'>,
): ScoredSession[] {
  const weights = new Map(Object.entries(replay.weights));
  return val.sessions.map((s, i) => {
    const place = preScorePlaces(
      s.candidates.map(([id]) => id),
      replay.proposals[i],
      weights,
      replay.rrfK,
    );
    const scores = Float32Array.from(place, (p) => 0 - p); // 0 - 0 is +0
    return { scores: [scores, scores, scores], labels: HEADS.map((_, h) => Uint8Array.from(s.labels, (l) => l[h])) };
  });
}

/** The user's context at a held-out session's start: as of the day start, plus that day's earlier actions. */
export function sessionContext(
  dayStart: UserContext,
  val: ValRequests,
  s: ValSession,
  dayStartMs: number,
): UserContext {
  const actions = val.users[s.user]?.actions ?? [];
  const earlierToday: Action[] = [];
  for (let i = s.histCount - 1; i >= 0 && actions[i][2] >= dayStartMs; i--) {
    const [itemId, code, timeMs] = actions[i];
    earlierToday.push({ itemId, type: ACTION_TYPE_OF_CODE[code], timeMs, boardId: '' });
  }
  return {
    ...dayStart,
    recentActions: [...earlierToday, ...dayStart.recentActions].slice(0, SEQ_LEN),
    requestTimeMs: s.timeMs,
  };
}

/** What the generators serve from: each snapshot's current version, each model version's state and whether it has an index. */
function asOfInputs(snapshotsDir: string, registryDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const dirs = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name)
          .sort()
      : [];
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim() : '');
  for (const name of dirs(snapshotsDir)) out[`snapshot/${name}`] = read(join(snapshotsDir, name, 'CURRENT'));
  for (const model of dirs(registryDir)) {
    for (const version of dirs(join(registryDir, model)).filter((v) => /^v\d+$/.test(v))) {
      const state = read(join(registryDir, model, version, 'state.json'));
      out[`model/${model}/${version}`] =
        `${state ? (JSON.parse(state) as { state?: string }).state : ''}${readdirSync(join(registryDir, model, version)).some((f) => f.endsWith('.faiss')) ? '+index' : ''}`;
    }
  }
  return out;
}

/**
 * Serves the mesh's generators as of the held-out day's start and asks each, for every held-out
 * session, what it would propose; keeps the (generator, rank) of the session's shown items.
 */
export async function replayProposals(
  mesh: MeshConfig,
  val: ValRequests,
  options: { concurrency?: number; log?: (line: string) => void } = {},
): Promise<PreScoreReplay> {
  const log = options.log ?? (() => {});
  const worldDir = mesh.world.dir;
  if (val.sessions.length === 0) throw new Error('replayProposals: no held-out sessions');
  const asOfMs = Math.floor(Math.min(...val.sessions.map((s) => s.timeMs)) / DAY_MS) * DAY_MS;
  if (val.sessions.some((s) => s.timeMs >= asOfMs + DAY_MS))
    throw new Error('replayProposals: the held-out sessions span more than one day');

  // The same as-of folders as `feedloom eval`: built once per world and day, then reused.
  const { snapshotsDir, registryDir } = await prepareAsOf(mesh, worldDir, asOfMs, log);

  // Proposals depend on the world, the as-of snapshots and models, the sessions and which generators
  // are asked for how many, not on the weights: kept beside the as-of snapshots and reused while all
  // of those stay the same (delete the file to replay again, e.g. after changing a generator's code).
  const { weights, rrfK } = policyFromConfig(mesh);
  const key = createHash('sha1')
    .update(readFileSync(join(worldDir, 'world.json')))
    .update(
      JSON.stringify({
        inputs: asOfInputs(snapshotsDir, registryDir),
        generators: mesh.generators.filter((g) => g.enabled).map((g) => [g.name, g.quota]),
        sessions: val.sessions.map((s) => [s.sessionId, s.timeMs]),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const cachePath = join(worldDir, 'eval', `asof-${asOfMs}`, `prescore-replay-${key}.json`);
  if (existsSync(cachePath)) {
    const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as PreScoreReplay;
    log(`pre-score replay: reusing ${cachePath}`);
    return { ...cached, weights: Object.fromEntries(weights), rrfK };
  }

  const enabled = mesh.generators.filter((g) => g.enabled);
  log(
    `replaying ${enabled.length} generators for ${val.sessions.length} held-out sessions as of ${new Date(asOfMs).toISOString()} …`,
  );
  const proposals: SessionProposals[] = new Array(val.sessions.length);
  let proposed = 0;
  let impressions = 0;
  const asOfMesh: MeshConfig = { ...mesh, world: { ...mesh.world, dir: worldDir, snapshotsDir, asOfMs }, registryDir };
  const generators = await serveGenerators(asOfMesh, async (asOf) => {
    const dayStartContexts = new Map<string, Promise<UserContext>>();
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < val.sessions.length) {
        const i = next++;
        const s = val.sessions[i];
        if (!dayStartContexts.has(s.user)) dayStartContexts.set(s.user, asOf.context(s.user));
        const user = sessionContext(await dayStartContexts.get(s.user)!, val, s, asOfMs);
        // As the blender's fan-out asks: every generator at once, each for its configured quota.
        const answers = await asOf.generate(user, `prescore-replay-${i}`);
        proposals[i] = proposalsOfShown(
          s.candidates.map(([id]) => id),
          answers,
        );
        proposed += proposals[i].filter((p) => p.length > 0).length;
        impressions += s.candidates.length;
        if (++done % 200 === 0) log(`  ${done}/${val.sessions.length} sessions`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
    return asOf.generators;
  });
  const replay: PreScoreReplay = {
    generators,
    weights: Object.fromEntries(weights),
    rrfK,
    asOfMs,
    proposals,
    proposed,
    impressions,
  };
  // Written aside, then renamed: an interrupted run leaves no half file to reuse.
  writeFileSync(`${cachePath}.tmp-${process.pid}`, JSON.stringify(replay));
  renameSync(`${cachePath}.tmp-${process.pid}`, cachePath);
  return replay;
}

// Builds the ranker's training data from a world's event log (DuckDB over the events view).
//
// One example per impression, with its outcome (click, save, hide, or none of them). Impressions
// are grouped into requests: a session of the log is one page the incumbent showed, ranked at the
// session's first impression, so every impression of a session shares one context, built only from
// what happened before that moment:
//   - the user's clicks, saves and hides before the session (the newest SEQ_LEN are the sequence;
//     the trainer gathers them from the action arrays with their time gap to the session start);
//   - each candidate's item id, topic, creator, locale, age at the session start, and popularity as
//     of the start of the session's day (the popularity batch job's SQL over events before that:
//     the snapshot a ranker would have been serving), and the generator that proposed it at what
//     rank: in the simulated log, the impression's `source` and `position`.
// Candidate features are encoded with encodeCandidateInto, the function the Ranker serves with.
// Labels depend on what the log holds (the world manifest's source). A simulated log has an
// impression log: every shown item is an example, labelled by what the user then did. An imported
// interaction file has no impressions of its own (each interaction was written as an impression plus
// its action). There, given the blender's replayed requests (services/offline/trainer/candidate-replay.ts:
// for each user, with their last 20% of interactions held out, the candidates the mesh would have
// sent the ranker), each request is a session whose candidates the user went on to interact with are
// the positives — click label: any interaction, save label: a save (rating ≥ 4) — and the other
// candidates the negatives; a share of the users is held out, and the baseline to beat is the
// blender's pre-score order of the same candidates. Without them (no mesh), every session's
// interacted items are the positives and sampled negatives (libs/ranking/negatives.ts: items the
// user had not interacted with, drawn by how popular they were before that day) fill the session,
// against popularity order; such a model separates interactions from the catalog, not the
// candidates the blender sends (docs/RANKER.md, "Ranker on imported logs").
// Time split: sessions that start on the last `holdoutDays` days are the held-out set (default: the
// fewest last days holding 5% of the sessions, at least one); vocabularies and bucket edges come
// from the training sessions only.
//
// Output (outDir): .npy arrays, dataset.json (shapes, the encoding, counts, windows) and
// val_requests.json (the held-out sessions as Rank requests, scored through the serving encoder by evalRanker).
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DuckDBConnection } from '@duckdb/node-api';
import { itemMeta as itemMetaJob, type ItemMetaRow } from '../data/batch/jobs/item_meta.js';
import { popularity as popularityJob } from '../data/batch/jobs/popularity.js';
import type { RowOf } from '../data/snapshots.js';
import { eventsView, openDuck, queryRows } from '../data/duck.js';
import { createRng, hashSeed } from '../data/random.js';
import { DAY_MS, readWorldManifest } from '../data/world.js';
import { writeNpy, type NpyArray } from '../training/npy.js';
import { rankerCatalog } from './catalog.js';
import {
  ACTION_CODE_BY_NAME,
  allocateCandidates,
  encodeCandidateInto,
  itemIndex,
  localeIndex,
  MAX_SOURCES,
  SEQ_LEN,
  topicIndex,
  type CandidateColumns,
  type RankCandidateInput,
  type RankerEncoding,
  type RankerItem,
  type RankSourceInput,
} from './encoding.js';
import { NEGATIVES_PER_POSITIVE, sampleNegatives, type LoggedSession } from './negatives.js';

export const DATASET_FILE = 'dataset.json';
export const VAL_REQUESTS_FILE = 'val_requests.json';

/** Bucket edges the model applies to the raw numbers (gap and age: log-ish scales; popularity: training quantiles). */
export const GAP_HOUR_EDGES = [0.05, 0.25, 1, 3, 6, 12, 24, 48, 96, 168, 336];
export const AGE_DAY_EDGES = [0.5, 1, 2, 4, 7, 14, 30, 60, 120, 240];
/** Signed: items that existed at the user's last action (< 0) and items new since (> 0). */
export const AFTER_LAST_DAY_EDGES = [-180, -90, -30, -14, -7, -3, -1, 0, 1, 3, 7, 14, 30, 90, 180];
export const RANK_EDGES = [1, 2, 3, 5, 8, 12, 20, 30, 50, 100];
const POPULARITY_QUANTILES = [0.2, 0.4, 0.6, 0.75, 0.85, 0.92, 0.96, 0.99];
/** Without holdoutDays, the held-out days are the fewest last days holding this share of the sessions. */
const MIN_HELDOUT_SHARE = 0.05;

/**
 * Where the examples come from: `logged_impressions` (every shown item, baseline: the incumbent's
 * page order), `replayed_candidates` (the blender's candidates replayed per user, labelled by what
 * the user did next; baseline: pre-score order) or `sampled_negatives` (interactions plus sampled
 * negatives, baseline: popularity order).
 */
export type RankerLabels = 'logged_impressions' | 'sampled_negatives' | 'replayed_candidates';
/** position: the incumbent's page order; popularity; prescore: the blender's pre-score order of replayed candidates. */
export type RankerBaseline = 'position' | 'popularity' | 'prescore';

/**
 * What the blender would have sent the ranker for one user, best pre-score first; the user's
 * actions from historyEndMs on label its candidates.
 */
export interface ReplayedRequest {
  user: string;
  /** The request's time: the sequence's gaps, the candidates' age. */
  timeMs: number;
  /** The user's history is their actions before this; what they did from then on is what happened next. */
  historyEndMs: number;
  candidates: RankCandidateInput[];
  /** 0 or absent: the replay at the latest cut, the one validated on; k ≥ 1: a replay k cuts earlier, trained on only. */
  cut?: number;
  /** An earlier cut: the items as its own replayed mesh read them (their popularity), in place of CandidateReplay.items. */
  items?: ReadonlyMap<string, RankerItem>;
  /** An earlier cut: only these items of what the user did next label it (its own held-out part, not what came later). */
  labelItems?: ReadonlySet<string>;
}

/** The blender's requests replayed on a log without an impression log (services/offline/trainer/candidate-replay.ts). */
export interface CandidateReplay {
  requests: ReplayedRequest[];
  /** The items as the replayed mesh's ranker would have read them (its item_meta and popularity snapshots). */
  items: ReadonlyMap<string, RankerItem>;
  /** Each user's share of interactions held out to label the request. */
  heldOutFraction: number;
}

/** Share of the users whose replayed requests are held out for validation. */
const REPLAY_VAL_SHARE = 0.1;

export interface RankerDatasetOptions {
  worldDir: string;
  outDir: string;
  /** End of the data window (exclusive); default: the end of the world's last day. */
  endMs?: number;
  /** Days at the end held out for evaluation (default 1). */
  holdoutDays?: number;
  /** Items need this many training impressions or actions to get their own id (default 2). */
  minItemCount?: number;
  /** At most this many held-out sessions (a deterministic sample: every k-th); default all. */
  maxValSessions?: number;
  /** Seed of the negative sampling (logs without an impression log); default 7. */
  seed?: number;
  /**
   * On a log without an impression log: the examples are the candidates the blender would have
   * sent the ranker (replayed for each user with their last interactions held out), labelled by
   * whether the user went on to interact with them, instead of interactions plus sampled negatives.
   */
  replayed?: CandidateReplay;
  log?: (line: string) => void;
}

export interface NpyEntry {
  file: string;
  dtype: string;
  shape: number[];
}

export interface RankerDatasetManifest {
  world: string;
  endMs: number;
  trainEndMs: number;
  dataWindow: { startMs: number; endMs: number };
  validationWindow: { startMs: number; endMs: number };
  encoding: RankerEncoding;
  /** How examples were made, and the order a model must beat on the held-out sessions. */
  labels: {
    kind: RankerLabels;
    baseline: RankerBaseline;
    negativesPerPositive?: number;
    /** replayed_candidates: each user's share of interactions held out to label their request; share of users validated on. */
    heldOutFraction?: number;
    valUserShare?: number;
  };
  counts: {
    actions: number;
    trainSessions: number;
    trainExamples: number;
    valSessions: number;
    valExamples: number;
    positives: Record<string, number>;
    sampledNegatives?: number;
    /** replayed_candidates: requests replayed, and those left out because no candidate was interacted with. */
    replayedRequests?: number;
    requestsWithoutPositive?: number;
  };
  arrays: Record<string, NpyEntry>;
  buildMs: number;
}

/** A held-out session as the Rank request a ranker would have received, with what the user did. */
export interface ValSession {
  user: string;
  sessionId: string;
  timeMs: number;
  /** How many of the user's actions (in val_requests.users[user].actions, oldest first) came before the session. */
  histCount: number;
  /** [item id, generator, rank] per impression, in page order (replayed candidates: [item id, '', pre-score place]). */
  candidates: [string, string, number][];
  /** Replayed candidates: every [generator, rank] that proposed each candidate (the ranker's sources at serving). */
  sources?: [string, number][][];
  /** [clicked, saved, hid] per impression, 0 or 1. */
  labels: [number, number, number][];
}

export interface ValRequests {
  /** Catalog rows: item → [topic, creator, locale, createdMs]; popularity per day start (ms) → item → score. */
  items: Record<string, [string | null, string | null, string | null, number | null]>;
  popularity: Record<string, Record<string, number>>;
  /** Per user: locale and every click/save/hide before the window's end, oldest first, [item, action code, timeMs]. */
  users: Record<string, { locale: string; actions: [string, number, number][] }>;
  sessions: ValSession[];
}

export interface RankerDataset {
  dir: string;
  manifest: RankerDatasetManifest;
}

interface Impressions {
  users: string[];
  sessions: string[];
  items: string[];
  times: number[];
  sessionMs: number[];
  positions: (number | null)[];
  /** The proposals each impression carries as the ranker's sources (logged: its generator at its slot). */
  sources: RankSourceInput[][];
  click: boolean[];
  save: boolean[];
  hide: boolean[];
}

function emptyImpressions(): Impressions {
  return {
    users: [],
    sessions: [],
    items: [],
    times: [],
    sessionMs: [],
    positions: [],
    sources: [],
    click: [],
    save: [],
    hide: [],
  };
}

interface Actions {
  users: string[];
  items: string[];
  actions: string[];
  times: number[];
}

const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

export async function buildRankerDataset(options: RankerDatasetOptions): Promise<RankerDataset> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const world = await readWorldManifest(options.worldDir);
  const endMs = Math.floor(options.endMs ?? world.startMs + world.days * DAY_MS);
  const labelKind: RankerLabels =
    world.source !== 'import' ? 'logged_impressions' : options.replayed ? 'replayed_candidates' : 'sampled_negatives';
  const replayed = labelKind === 'replayed_candidates';
  const seed = options.seed ?? 7;
  const minItemCount = options.minItemCount ?? 2;
  await fs.mkdir(options.outDir, { recursive: true });

  const duck = await openDuck();
  try {
    const conn = duck.conn;
    await eventsView(conn, options.worldDir, { beforeMs: endMs });
    // Materialized once: the per-day popularity queries re-point the `events` view at slices of it.
    await conn.run(
      `CREATE TABLE ranker_ev AS SELECT user_id, item_id, action, time_ms, session_id, position, source FROM events WHERE user_id IS NOT NULL AND item_id IS NOT NULL`,
    );
    const itemMeta = await queryRows<ItemMetaRow>(
      conn,
      `SELECT * FROM (${itemMetaJob.sql({ asOfMs: endMs, dayMs: DAY_MS })}) ORDER BY item_id`,
    );
    const userLocale = new Map(
      (await queryRows<{ user_id: string; locale: string | null }>(conn, 'SELECT user_id, locale FROM users')).map(
        (u) => [u.user_id, u.locale ?? ''],
      ),
    );
    const actions = await readActions(conn);
    const logged = await readImpressions(conn);
    if (logged.users.length === 0)
      throw new Error(`no impressions with a session in ${options.worldDir}: the ranker learns from impressions`);
    log(
      `ranker dataset: ${logged.users.length} impressions, ${actions.users.length} clicks/saves/hides before ${new Date(endMs).toISOString()}`,
    );
    const valStartMs =
      options.holdoutDays === undefined
        ? heldoutStart(logged, endMs)
        : dayOf(endMs - 1) - (options.holdoutDays - 1) * DAY_MS;
    if (!replayed && valStartMs <= world.startMs)
      throw new Error(
        `the held-out window starts at ${new Date(valStartMs).toISOString()}, not after the world's first day: nothing to train on`,
      );

    let imps = logged;
    let withoutPositive = 0;
    let replayedSessions = new Map<string, ReplayedSession>();
    // Replayed requests are held out by user (a share of them, by a seeded hash), not by time; their
    // history ends where their held-out interactions begin.
    // A user's latest history end (their cut-0 request's): the item vocabulary counts the actions before it.
    const historyEnd = new Map<string, number>();
    for (const r of options.replayed?.requests ?? [])
      historyEnd.set(r.user, Math.max(r.historyEndMs, historyEnd.get(r.user) ?? -Infinity));
    const valUsers = new Set(
      [...historyEnd.keys()].filter((u) => createRng(hashSeed(seed, 'val-user', u)).next() < REPLAY_VAL_SHARE),
    );
    const isHeldOut = (user: string, timeMs: number) => (replayed ? valUsers.has(user) : timeMs >= valStartMs);
    if (labelKind === 'sampled_negatives') imps = withSampledNegatives(logged, itemMeta, seed);
    else if (replayed) {
      // A validation user's earlier cuts are neither trained nor validated on: the gate reads the latest cut, as served.
      const requests = options.replayed!.requests.filter((r) => !r.cut || !valUsers.has(r.user));
      ({
        imps,
        withoutPositive,
        sessions: replayedSessions,
      } = replayedImpressions(requests, options.replayed!.items, actions));
      log(
        `ranker dataset: no impression log (imported interactions): ${options.replayed!.requests.length} replayed requests of the blender's candidates, ${withoutPositive} with no candidate the user went on to interact with (left out)`,
      );
    }
    const sampledNegatives = labelKind === 'sampled_negatives' ? imps.users.length - logged.users.length : 0;
    if (sampledNegatives)
      log(
        `ranker dataset: no impression log (imported interactions): ${sampledNegatives} sampled negatives, ${NEGATIVES_PER_POSITIVE} per interaction`,
      );
    const days = [...new Set(imps.sessionMs.map(dayOf))].sort((a, b) => a - b);
    // Replayed requests read the popularity the replayed mesh served (its world lacks the held-out interactions).
    const popularityByDay = replayed
      ? new Map(days.map((day) => [day, replayedPopularity(options.replayed!.items)]))
      : await popularityAsOfDays(conn, days);
    const base = rankerCatalog(itemMeta, []);
    // A replayed request reads the popularity its own replayed mesh served; a logged one, the day's.
    const popularityOf = (user: string, session: string, sessionMs: number) =>
      replayed ? replayedSessions.get(sessionKey(user, session))!.popularity : popularityByDay.get(dayOf(sessionMs))!;
    const lookupFor = (pop: Map<string, number>) => {
      const cache = new Map<string, RankerItem | undefined>();
      return (itemId: string): RankerItem | undefined => {
        if (cache.has(itemId)) return cache.get(itemId);
        const info = base.get(itemId);
        const out = info ? { ...info, popularity: pop.get(itemId) ?? 0 } : undefined;
        cache.set(itemId, out);
        return out;
      };
    };

    // Vocabularies from the training window only.
    const itemCount = new Map<string, number>();
    const bump = (item: string) => itemCount.set(item, (itemCount.get(item) ?? 0) + 1);
    const sourceNames = new Set<string>();
    const trainPops: number[] = [];
    for (let i = 0; i < imps.users.length; i++) {
      if (isHeldOut(imps.users[i], imps.sessionMs[i])) continue;
      bump(imps.items[i]);
      for (const p of imps.sources[i]) sourceNames.add(p.generator);
      const p = popularityOf(imps.users[i], imps.sessions[i], imps.sessionMs[i]).get(imps.items[i]);
      if (p && p > 0) trainPops.push(p);
    }
    for (let i = 0; i < actions.users.length; i++)
      if (actions.times[i] < (replayed ? (historyEnd.get(actions.users[i]) ?? Infinity) : valStartMs))
        bump(actions.items[i]);
    const frequent = [...itemCount]
      .filter(([, n]) => n >= minItemCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .map(([id]) => id);
    const sortedSet = (values: Iterable<string | null | undefined>) =>
      [...new Set([...values].filter((v): v is string => !!v))].sort();
    const encoding: RankerEncoding = {
      vocab: {
        items: ['<pad>', '<unk>', ...frequent],
        topics: ['<pad>', '<unk>', ...sortedSet(itemMeta.map((r) => r.topic))],
        creators: ['<pad>', '<unk>', ...sortedSet(itemMeta.map((r) => r.creator_id))],
        locales: ['<pad>', '<unk>', ...sortedSet([...itemMeta.map((r) => r.locale), ...userLocale.values()])],
        sources: ['<pad>', '<unk>', ...[...sourceNames].sort()],
      },
      seqLen: SEQ_LEN,
      maxSources: replayed ? Math.max(MAX_SOURCES, sourceNames.size) : MAX_SOURCES,
      buckets: {
        gapHours: GAP_HOUR_EDGES,
        ageDays: AGE_DAY_EDGES,
        afterLastDays: AFTER_LAST_DAY_EDGES,
        popularity: quantileEdges(trainPops, POPULARITY_QUANTILES),
        rank: RANK_EDGES,
      },
    };

    // The action arrays (user by user, oldest first), and where each user's actions start.
    const A = actions.users.length;
    const actItem = new Int32Array(A);
    const actTopic = new Int32Array(A);
    const actType = new Int32Array(A);
    const actTime = new Float64Array(A);
    const userStart = new Map<string, number>();
    for (let i = 0; i < A; i++) {
      if (!userStart.has(actions.users[i])) userStart.set(actions.users[i], i);
      actItem[i] = itemIndex(encoding.vocab, actions.items[i]);
      actTopic[i] = topicIndex(encoding.vocab, base.get(actions.items[i]));
      actType[i] = ACTION_CODE_BY_NAME[actions.actions[i]];
      actTime[i] = actions.times[i];
    }

    // Sessions → contexts (one per session) and examples (one per impression).
    const split = { train: new SplitBuilder(encoding), val: new SplitBuilder(encoding) };
    const valSessions: ValSession[] = [];
    let i = 0;
    let actPtr = 0;
    let currentUser = '';
    while (i < imps.users.length) {
      const user = imps.users[i];
      const session = imps.sessions[i];
      const t0 = imps.sessionMs[i];
      let j = i;
      while (j < imps.users.length && imps.users[j] === user && imps.sessions[j] === session) j++;
      // Actions of this user strictly before the session's first impression (a replayed request: before its history's end).
      const historyEndMs = replayed ? replayedSessions.get(sessionKey(user, session))!.historyEndMs : t0;
      const start = userStart.get(user) ?? -1;
      if (user !== currentUser) {
        currentUser = user;
        actPtr = start;
      }
      let histEnd = start;
      if (start >= 0) {
        while (actPtr < A && actions.users[actPtr] === user && actions.times[actPtr] < historyEndMs) actPtr++;
        histEnd = actPtr;
      }
      const isVal = isHeldOut(user, t0);
      const target = isVal ? split.val : split.train;
      const lookup = lookupFor(popularityOf(user, session, t0));
      const ctx = target.addContext(
        Math.max(0, start),
        Math.max(0, histEnd),
        t0,
        localeIndex(encoding.vocab, userLocale.get(user) ?? ''),
      );
      const time = { requestMs: t0, lastActionMs: start >= 0 && histEnd > start ? actTime[histEnd - 1] : null };
      for (let k = i; k < j; k++) {
        target.addExample(
          ctx,
          {
            itemId: imps.items[k],
            sources: imps.sources[k],
          },
          lookup,
          time,
          imps.positions[k] ?? -1,
          [imps.click[k], imps.save[k], imps.hide[k]],
        );
      }
      if (isVal) {
        valSessions.push({
          user,
          sessionId: session,
          timeMs: t0,
          histCount: start >= 0 ? histEnd - start : 0,
          candidates: Array.from({ length: j - i }, (_, n) =>
            replayed
              ? [imps.items[i + n], '', imps.positions[i + n] ?? -1]
              : [imps.items[i + n], imps.sources[i + n][0]?.generator ?? '', imps.positions[i + n] ?? -1],
          ),
          ...(replayed && {
            sources: Array.from({ length: j - i }, (_, n) =>
              imps.sources[i + n].map((p): [string, number] => [p.generator, p.rank]),
            ),
          }),
          labels: Array.from({ length: j - i }, (_, n) => [+imps.click[i + n], +imps.save[i + n], +imps.hide[i + n]]),
        });
      }
      i = j;
    }
    if (split.train.examples === 0)
      throw new Error(
        replayed
          ? 'no replayed request of a training user has a candidate the user went on to interact with: nothing to train on'
          : `no impressions before ${new Date(valStartMs).toISOString()}: nothing to train on`,
      );
    if (split.val.examples === 0)
      throw new Error(
        replayed
          ? 'no replayed request of a held-out user has a candidate the user went on to interact with'
          : `no impressions in the held-out window from ${new Date(valStartMs).toISOString()}`,
      );

    const arrays: Record<string, NpyEntry> = {};
    const write = async (name: string, data: NpyArray, shape: number[]) => {
      const file = `${name}.npy`;
      await writeNpy(path.join(options.outDir, file), data, shape);
      arrays[name] = { file, dtype: dtypeOf(data), shape };
    };
    await write('act_item', actItem, [A]);
    await write('act_topic', actTopic, [A]);
    await write('act_type', actType, [A]);
    await write('act_time_ms', actTime, [A]);
    for (const [name, s] of Object.entries(split)) await s.write(name, write);

    await fs.writeFile(
      path.join(options.outDir, VAL_REQUESTS_FILE),
      JSON.stringify(valRequests(valSessions, itemMeta, popularityByDay, userLocale, actions, options.maxValSessions)),
    );
    const positives = {
      click: split.train.positives[0],
      save: split.train.positives[1],
      hide: split.train.positives[2],
    };
    const manifest: RankerDatasetManifest = {
      world: path.resolve(options.worldDir),
      endMs,
      // Replayed requests: trained and validated on different users over the whole log.
      trainEndMs: replayed ? endMs : valStartMs,
      dataWindow: { startMs: world.startMs, endMs: replayed ? endMs : valStartMs },
      validationWindow: { startMs: replayed ? world.startMs : valStartMs, endMs },
      encoding,
      labels:
        labelKind === 'sampled_negatives'
          ? { kind: labelKind, baseline: 'popularity', negativesPerPositive: NEGATIVES_PER_POSITIVE }
          : replayed
            ? {
                kind: labelKind,
                baseline: 'prescore',
                heldOutFraction: options.replayed!.heldOutFraction,
                valUserShare: REPLAY_VAL_SHARE,
              }
            : { kind: labelKind, baseline: 'position' },
      counts: {
        actions: A,
        trainSessions: split.train.contexts,
        trainExamples: split.train.examples,
        valSessions: split.val.contexts,
        valExamples: split.val.examples,
        positives,
        ...(sampledNegatives ? { sampledNegatives } : {}),
        ...(replayed ? { replayedRequests: split.train.contexts + split.val.contexts + withoutPositive } : {}),
        ...(replayed ? { requestsWithoutPositive: withoutPositive } : {}),
      },
      arrays,
      buildMs: Math.round(performance.now() - started),
    };
    await fs.writeFile(path.join(options.outDir, DATASET_FILE), JSON.stringify(manifest, null, 2));
    log(
      `ranker dataset: ${manifest.counts.trainSessions} train sessions / ${manifest.counts.trainExamples} impressions ` +
        `(${positives.click} clicks, ${positives.save} saves, ${positives.hide} hides), ${manifest.counts.valSessions} held-out sessions / ` +
        `${manifest.counts.valExamples} impressions, ${encoding.vocab.items.length} item ids; ${manifest.buildMs} ms`,
    );
    return { dir: options.outDir, manifest };
  } finally {
    duck.close();
  }
}

/**
 * The first held-out day's start: the fewest last days (of those before endMs) whose sessions are at
 * least MIN_HELDOUT_SHARE of all, at least one day. A sparse log (a few dozen ratings a day) gets a
 * held-out set large enough to tell a model from its baseline.
 */
function heldoutStart(imps: Impressions, endMs: number): number {
  const sessionDays = new Map<string, number>();
  for (let i = 0; i < imps.users.length; i++)
    sessionDays.set(`${imps.users[i]}\u0001${imps.sessions[i]}`, dayOf(imps.sessionMs[i]));
  const starts = [...sessionDays.values()].sort((a, b) => b - a);
  const wanted = Math.max(1, Math.ceil(MIN_HELDOUT_SHARE * starts.length));
  // The day of the wanted-th newest session: held out with every session of its day and after.
  return Math.min(dayOf(endMs - 1), starts[Math.min(wanted, starts.length) - 1]);
}

/**
 * The log's impressions (all of them interactions, or shown items without one) with sampled
 * negatives added to every session, the click label set for any interaction, each session's rows in
 * a seeded random order (no page order to keep: ties must not favour the positives).
 */
function withSampledNegatives(imps: Impressions, itemMeta: ItemMetaRow[], seed: number): Impressions {
  const bounds: [number, number][] = [];
  const sessions: LoggedSession[] = [];
  for (let i = 0; i < imps.users.length;) {
    let j = i;
    while (j < imps.users.length && imps.users[j] === imps.users[i] && imps.sessions[j] === imps.sessions[i]) j++;
    const rows = Array.from({ length: j - i }, (_, n) => i + n);
    bounds.push([i, j]);
    sessions.push({
      user: imps.users[i],
      session: imps.sessions[i],
      startMs: imps.sessionMs[i],
      items: rows.map((r) => imps.items[r]),
      positive: rows.map((r) => imps.click[r] || imps.save[r]),
    });
    i = j;
  }
  const catalog = itemMeta.map((r) => ({
    itemId: r.item_id,
    createdMs: r.created_ms == null ? null : Number(r.created_ms),
  }));
  const negatives = sampleNegatives({ sessions, catalog, seed });
  const out = emptyImpressions();
  sessions.forEach((s, k) => {
    const [from, to] = bounds[k];
    const rows: { item: string; time: number; click: boolean; save: boolean; hide: boolean }[] = [];
    for (let r = from; r < to; r++)
      rows.push({
        item: imps.items[r],
        time: imps.times[r],
        click: imps.click[r] || imps.save[r],
        save: imps.save[r],
        hide: imps.hide[r],
      });
    for (const item of negatives[k]) rows.push({ item, time: s.startMs, click: false, save: false, hide: false });
    createRng(hashSeed(seed, 'order', s.user, s.session)).shuffle(rows);
    for (const row of rows) {
      out.users.push(s.user);
      out.sessions.push(s.session);
      out.items.push(row.item);
      out.times.push(row.time);
      out.sessionMs.push(s.startMs);
      out.positions.push(null);
      out.sources.push([]);
      out.click.push(row.click);
      out.save.push(row.save);
      out.hide.push(row.hide);
    }
  });
  return out;
}

/** Item → popularity, as the replayed mesh served it. */
function replayedPopularity(items: ReadonlyMap<string, RankerItem>): Map<string, number> {
  return new Map([...items].map(([id, info]) => [id, info.popularity]));
}

/** A replayed request as a session: where its history ends, and the popularity its replayed mesh served. */
interface ReplayedSession {
  historyEndMs: number;
  popularity: Map<string, number>;
}

const sessionKey = (user: string, session: string) => `${user}\u0000${session}`;

/**
 * The replayed requests as impressions, one session per request, user by user (a user's requests
 * oldest cut first, so that the walk over their actions only moves forward): each candidate in
 * pre-score order (its place as the position, its proposals as the sources), labelled by what the
 * user did with it from the request's history end on (an earlier cut: only its own held-out items):
 * click for any interaction, save for a save. A request none of whose candidates the user went on to
 * interact with teaches no order and is left out.
 */
function replayedImpressions(
  requests: readonly ReplayedRequest[],
  items: ReadonlyMap<string, RankerItem>,
  actions: Actions,
): { imps: Impressions; withoutPositive: number; sessions: Map<string, ReplayedSession> } {
  // Per user: item → the actions taken on it, with their times.
  const byUser = new Map<string, { item: string; action: string; timeMs: number }[]>();
  for (let i = 0; i < actions.users.length; i++) {
    const list = byUser.get(actions.users[i]) ?? byUser.set(actions.users[i], []).get(actions.users[i])!;
    list.push({ item: actions.items[i], action: actions.actions[i], timeMs: actions.times[i] });
  }
  const popularityCache = new Map<ReadonlyMap<string, RankerItem>, Map<string, number>>();
  const popularityFor = (m: ReadonlyMap<string, RankerItem>) =>
    popularityCache.get(m) ?? popularityCache.set(m, replayedPopularity(m)).get(m)!;
  const imps = emptyImpressions();
  const sessions = new Map<string, ReplayedSession>();
  let withoutPositive = 0;
  const ordered = [...requests].sort((a, b) =>
    a.user < b.user ? -1 : a.user > b.user ? 1 : a.historyEndMs - b.historyEndMs,
  );
  for (const request of ordered) {
    const did = new Map<string, Set<string>>();
    for (const a of byUser.get(request.user) ?? []) {
      if (a.timeMs < request.historyEndMs || (request.labelItems && !request.labelItems.has(a.item))) continue;
      (did.get(a.item) ?? did.set(a.item, new Set()).get(a.item)!).add(a.action);
    }
    const labels = request.candidates.map((c) => {
      const acts = did.get(c.itemId);
      return [!!acts && (acts.has('click') || acts.has('save')), !!acts?.has('save'), !!acts?.has('hide')];
    });
    if (!labels.some((l) => l[0] || l[1])) {
      withoutPositive++;
      continue;
    }
    const session = `replay-${request.cut ?? 0}-${request.timeMs}`;
    sessions.set(sessionKey(request.user, session), {
      historyEndMs: request.historyEndMs,
      popularity: popularityFor(request.items ?? items),
    });
    request.candidates.forEach((c, place) => {
      imps.users.push(request.user);
      imps.sessions.push(session);
      imps.items.push(c.itemId);
      imps.times.push(request.timeMs);
      imps.sessionMs.push(request.timeMs);
      imps.positions.push(place);
      imps.sources.push([...c.sources]);
      imps.click.push(labels[place][0]);
      imps.save.push(labels[place][1]);
      imps.hide.push(labels[place][2]);
    });
  }
  return { imps, withoutPositive, sessions };
}

/** Grows the context and example columns of one split. */
class SplitBuilder {
  contexts = 0;
  examples = 0;
  readonly positives = [0, 0, 0];
  private ctxStart: number[] = [];
  private ctxEnd: number[] = [];
  private ctxTime: number[] = [];
  private ctxLocale: number[] = [];
  private exCtx: number[] = [];
  private exPosition: number[] = [];
  private labels: number[] = [];
  private cols: CandidateColumns;
  private capacity = 4096;

  constructor(private readonly enc: RankerEncoding) {
    this.cols = allocateCandidates(this.capacity, enc);
  }

  addContext(histStart: number, histEnd: number, timeMs: number, locale: number): number {
    this.ctxStart.push(histStart);
    this.ctxEnd.push(histEnd);
    this.ctxTime.push(timeMs);
    this.ctxLocale.push(locale);
    return this.contexts++;
  }

  addExample(
    ctx: number,
    candidate: { itemId: string; sources: { generator: string; rank: number }[] },
    lookup: (id: string) => RankerItem | undefined,
    time: { requestMs: number; lastActionMs: number | null },
    position: number,
    labels: boolean[],
  ): void {
    if (this.examples === this.capacity) this.grow();
    encodeCandidateInto(this.cols, this.examples, candidate, lookup, time, this.enc);
    this.exCtx.push(ctx);
    this.exPosition.push(position);
    labels.forEach((l, h) => {
      this.labels.push(l ? 1 : 0);
      if (l) this.positives[h]++;
    });
    this.examples++;
  }

  private grow(): void {
    const next = allocateCandidates(this.capacity * 2, this.enc);
    for (const key of Object.keys(next) as (keyof CandidateColumns)[])
      (next[key] as Int32Array).set(this.cols[key] as Int32Array);
    this.cols = next;
    this.capacity *= 2;
  }

  async write(prefix: string, write: (name: string, data: NpyArray, shape: number[]) => Promise<void>): Promise<void> {
    const C = this.contexts;
    const E = this.examples;
    const K = this.enc.maxSources;
    await write(`${prefix}_ctx_hist_start`, Int32Array.from(this.ctxStart), [C]);
    await write(`${prefix}_ctx_hist_end`, Int32Array.from(this.ctxEnd), [C]);
    await write(`${prefix}_ctx_time_ms`, Float64Array.from(this.ctxTime), [C]);
    await write(`${prefix}_ctx_locale`, Int32Array.from(this.ctxLocale), [C]);
    await write(`${prefix}_ex_ctx`, Int32Array.from(this.exCtx), [E]);
    await write(`${prefix}_ex_position`, Int32Array.from(this.exPosition), [E]);
    await write(`${prefix}_ex_labels`, Uint8Array.from(this.labels), [E, 3]);
    for (const [key, data] of Object.entries(this.cols) as [keyof CandidateColumns, Int32Array | Float32Array][]) {
      const wide = key === 'cand_source' || key === 'cand_rank';
      await write(`${prefix}_${key}`, data.slice(0, wide ? E * K : E), wide ? [E, K] : [E]);
    }
  }
}

async function readActions(conn: DuckDBConnection): Promise<Actions> {
  const reader = await conn.runAndReadAll(`
    SELECT user_id, item_id, action, time_ms::DOUBLE AS time_ms FROM ranker_ev
    WHERE action IN ('click', 'save', 'hide')
    ORDER BY user_id, time_ms, item_id, action`);
  const [users, items, acts, times] = reader.getColumnsJS() as unknown as [string[], string[], string[], number[]];
  return { users, items, actions: acts, times };
}

async function readImpressions(conn: DuckDBConnection): Promise<Impressions> {
  const reader = await conn.runAndReadAll(`
    WITH labels AS (
      SELECT user_id, session_id, item_id, bool_or(action = 'click') AS c, bool_or(action = 'save') AS s, bool_or(action = 'hide') AS h
      FROM ranker_ev WHERE action IN ('click', 'save', 'hide') AND session_id IS NOT NULL
      GROUP BY user_id, session_id, item_id
    ), imps AS (
      SELECT user_id, session_id, item_id, time_ms, position, source, min(time_ms) OVER (PARTITION BY user_id, session_id) AS session_ms
      FROM ranker_ev WHERE action = 'impression' AND session_id IS NOT NULL
    )
    SELECT i.user_id, i.session_id, i.item_id, i.time_ms::DOUBLE, i.session_ms::DOUBLE, i.position, i.source,
      coalesce(l.c, false) AS c, coalesce(l.s, false) AS s, coalesce(l.h, false) AS h
    FROM imps i LEFT JOIN labels l USING (user_id, session_id, item_id)
    ORDER BY i.user_id, i.session_ms, i.session_id, i.time_ms, i.position, i.item_id`);
  const cols = reader.getColumnsJS() as unknown as [
    string[],
    string[],
    string[],
    number[],
    number[],
    (number | null)[],
    (string | null)[],
    boolean[],
    boolean[],
    boolean[],
  ];
  return {
    users: cols[0],
    sessions: cols[1],
    items: cols[2],
    times: cols[3],
    sessionMs: cols[4],
    positions: cols[5],
    // A logged impression's source: the generator that showed it, at its slot.
    sources: cols[6].map((generator, i) => (generator ? [{ generator, rank: cols[5][i] ?? -1 }] : [])),
    click: cols[7],
    save: cols[8],
    hide: cols[9],
  };
}

/** Each day's popularity as the batch job would have computed it at that day's start (events before it only). */
async function popularityAsOfDays(conn: DuckDBConnection, days: number[]): Promise<Map<number, Map<string, number>>> {
  const out = new Map<number, Map<string, number>>();
  for (const day of days) {
    await conn.run(`CREATE OR REPLACE VIEW events AS SELECT * FROM ranker_ev WHERE time_ms < ${day}`);
    const rows = await queryRows<RowOf<typeof popularityJob>>(conn, popularityJob.sql({ asOfMs: day, dayMs: DAY_MS }));
    out.set(day, new Map(rows.map((r) => [r.item_id, Number(r.score)])));
  }
  return out;
}

function valRequests(
  sessions: ValSession[],
  itemMeta: ItemMetaRow[],
  popularityByDay: Map<number, Map<string, number>>,
  userLocale: Map<string, string>,
  actions: Actions,
  maxSessions: number | undefined,
): ValRequests {
  const step = maxSessions && sessions.length > maxSessions ? sessions.length / maxSessions : 1;
  const picked = step === 1 ? sessions : Array.from({ length: maxSessions! }, (_, k) => sessions[Math.floor(k * step)]);
  const users = new Set(picked.map((s) => s.user));
  const needed = new Set<string>();
  const out: ValRequests = { items: {}, popularity: {}, users: {}, sessions: picked };
  for (let i = 0; i < actions.users.length; i++) {
    const u = actions.users[i];
    if (!users.has(u)) continue;
    const entry = (out.users[u] ??= { locale: userLocale.get(u) ?? '', actions: [] });
    entry.actions.push([actions.items[i], ACTION_CODE_BY_NAME[actions.actions[i]], actions.times[i]]);
    needed.add(actions.items[i]);
  }
  for (const u of users) out.users[u] ??= { locale: userLocale.get(u) ?? '', actions: [] };
  for (const s of picked) for (const [item] of s.candidates) needed.add(item);
  for (const r of itemMeta)
    if (needed.has(r.item_id))
      out.items[r.item_id] = [
        r.topic,
        r.creator_id,
        r.locale ?? null,
        r.created_ms == null ? null : Number(r.created_ms),
      ];
  for (const day of new Set(picked.map((s) => dayOf(s.timeMs)))) {
    const pop = popularityByDay.get(day)!;
    out.popularity[String(day)] = Object.fromEntries(
      [...needed].filter((id) => pop.has(id)).map((id) => [id, pop.get(id)!]),
    );
  }
  return out;
}

function quantileEdges(values: number[], quantiles: number[]): number[] {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const edges: number[] = [];
  for (const q of quantiles) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
  }
  return edges;
}

function dtypeOf(data: NpyArray): string {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  return 'int64';
}

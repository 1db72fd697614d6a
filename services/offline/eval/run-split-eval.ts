// Evaluation on a per-user split (`feedloom eval --split user-last:0.2`, the default on imported
// worlds): the last share of each user's interactions, by time, is held out; the mesh is prepared
// and served on the rest, and full-catalog recall@K of every generator, of the served Blend and of
// three classical baselines is measured against the held-out items, each user's training items
// left out of every list before it is cut at K.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { LearnedWeights } from '../../../libs/blend/learned-weights.js';
import type { EaseLambdaChoice } from '../../../libs/eval/baselines/tune-ease.js';
import { catalogCoverage, mean, recallCappedAtK } from '../../../libs/eval/metrics.js';
import { splitName, type UserLastSplit } from '../../../libs/eval/user-last-split.js';
import { baselineLists } from './baseline-lists.js';
import { meshForWorld, meshLists } from './mesh-lists.js';
import { evalVariants, type VariantEvalReport } from './variant-eval.js';
import { buildSplitWorld } from '../../../libs/eval/split-world.js';

export const SPLIT_METRIC = 'recall@K = hits in the first K / min(K, held-out items), averaged over users';

export interface SplitEvalRow {
  name: string;
  kind: 'generator' | 'blend' | 'baseline';
  /** By '@K'; absent where the list is shorter by construction (a Blend page of 20 at @100). */
  recall: Record<string, number>;
  /** Share of the catalog in some user's list, at the row's largest K. */
  coverage: number;
  note?: string;
  errors?: number;
  /** Blend rows: items on the served pages that are in the user's own training history (the blender filters them: 0). */
  historyItems?: number;
  /**
   * Blend rows: where the test users' held-out items went, as shares of all of them: `page`, a
   * filter (`filter:already_seen`, …), a page rule (`page:creator_cap`, `page:below_cutoff`, …), or
   * `not_proposed` (no generator's answer held it). Tells which stage loses recall.
   */
  heldOutFates?: Record<string, number>;
}

export interface SplitEvalReport {
  world: string;
  split: string;
  /** Share of each user's interactions held out. */
  fraction: number;
  /** The status page's label for what was held out. */
  testDay: string;
  metric: string;
  users: number;
  ks: number[];
  catalogItems: number;
  trainWorld: string;
  generators: SplitEvalRow[];
  /** The served Blend at its largest page, for the status page. */
  blend?: SplitEvalRow;
  blends: SplitEvalRow[];
  /**
   * With a ranker configured: each Blend page composed from the same candidates in the blender's
   * pre-score order (the ranker off), to tell what the ranker adds.
   */
  preScoreBlends?: SplitEvalRow[];
  baselines: SplitEvalRow[];
  /**
   * The training world's learned blend weights (the served Blend's pre-score), with their objective
   * before and after on the replayed users they were fitted on and on the others: no test user's
   * held-out items are read to learn them.
   */
  learnedWeights?: LearnedWeights;
  /** EASE's λ and the validation recall@K (largest K) of every λ tried. */
  easeLambda?: EaseLambdaChoice;
  /** Why the mesh rows are missing, when preparing or serving the training world failed. */
  meshError?: string;
  /** With variants: the config as written and each experiment's variant, replayed over the test users. */
  variants?: VariantEvalReport;
  seconds: Record<string, number>;
}

export async function runSplitEval(
  mesh: MeshConfig,
  options: {
    split: UserLastSplit;
    ks: number[];
    maxUsers: number;
    /** Seed of the models trained on the training world (default 7). */
    seed?: number;
    /** Learn the training world's blend weights and ranker again, reusing its snapshots and generator models. */
    retrainRanker?: boolean;
    /** Leave out the other user tower's row and its training. */
    servedTowerOnly?: boolean;
    /** Also replay the test users through each experiment variant's policy (SplitEvalReport.variants). */
    variants?: boolean;
    log?: (line: string) => void;
  },
): Promise<SplitEvalReport> {
  const log = options.log ?? (() => {});
  const worldDir = mesh.world.dir;
  const ks = [...options.ks].sort((a, b) => a - b);
  const maxK = ks[ks.length - 1];
  const seconds: Record<string, number> = {};
  const clock = async <T>(step: string, run: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } finally {
      seconds[step] = Math.round((performance.now() - started) / 100) / 10;
    }
  };

  const split = await clock('split', () => buildSplitWorld(worldDir, options.split, log));
  // A fixed pseudo-random sample, the same on every run.
  const key = (u: string) => createHash('sha1').update(u).digest('hex');
  const users = [...split.heldOut.keys()].sort((a, b) => (key(a) < key(b) ? -1 : 1)).slice(0, options.maxUsers);
  log(
    `${users.length} test users (of ${split.heldOut.size} with held-out interactions), ${split.catalogItems} catalog items`,
  );

  const own = new Map(users.map((u) => [u, new Set(split.train.get(u) ?? [])]));
  /** The list without the user's training items, cut at k. */
  const cut = (u: string, list: readonly string[], k: number) =>
    list.filter((item) => !own.get(u)!.has(item)).slice(0, k);
  const row = (
    name: string,
    kind: SplitEvalRow['kind'],
    lists: ReadonlyMap<string, readonly string[]>,
    rowKs = ks,
    extra: Partial<SplitEvalRow> = {},
  ): SplitEvalRow => ({
    name,
    kind,
    recall: Object.fromEntries(
      rowKs.map((k) => [
        `@${k}`,
        mean(users.map((u) => recallCappedAtK(cut(u, lists.get(u) ?? [], k), split.heldOut.get(u)!, k))),
      ]),
    ),
    coverage: catalogCoverage(
      users.map((u) => cut(u, lists.get(u) ?? [], Math.max(...rowKs))),
      split.catalogItems,
      Math.max(...rowKs),
    ),
    ...extra,
  });

  const baselines = await clock('baselines', () =>
    baselineLists(split.train, users, { k: maxK, fraction: options.split.fraction, log }),
  );
  const report: SplitEvalReport = {
    world: worldDir,
    split: splitName(options.split),
    fraction: options.split.fraction,
    testDay: `${splitName(options.split)} of each user`,
    metric: SPLIT_METRIC,
    users: users.length,
    ks,
    catalogItems: split.catalogItems,
    trainWorld: split.dir,
    generators: [],
    blends: [],
    baselines: baselines.map((b) =>
      b.lists
        ? row(b.name, 'baseline', b.lists, ks, { note: b.note })
        : { name: b.name, kind: 'baseline', recall: {}, coverage: 0, note: b.note },
    ),
    easeLambda: baselines.find((b) => b.ease)?.ease,
    seconds,
  };

  try {
    const served = await clock('mesh', () =>
      meshLists(meshForWorld(mesh, split.dir), {
        users,
        train: split.train,
        ks,
        seed: options.seed,
        retrainRanker: options.retrainRanker,
        servedTowerOnly: options.servedTowerOnly,
        record: options.variants,
        log,
      }),
    );
    if (served.recorded) {
      log("replaying the test users through each experiment variant's policy …");
      report.variants = evalVariants(meshForWorld(mesh, split.dir), {
        recorded: served.recorded.answers,
        // The same recall as every row above: the user's training items left out, then cut at k.
        recallAt: (u, page, k) => recallCappedAtK(cut(u, page, k), split.heldOut.get(u)!, k),
        users,
        catalog: served.recorded.catalog,
        ks,
      });
    }
    if (served.learnedWeights) report.learnedWeights = served.learnedWeights;
    report.generators = served.generators.map((g) =>
      row(g.name, 'generator', g.lists, ks, g.errors ? { errors: g.errors } : {}),
    );
    report.blends = served.blends.map((b) => {
      const notes = [b.unranked ? `${b.unranked} page(s) not ranked` : '', b.errors ? `${b.errors} failed` : ''].filter(
        Boolean,
      );
      return row(
        `Blend (page of ${b.limit})`,
        'blend',
        b.lists,
        ks.filter((k) => k <= b.limit),
        {
          ...(notes.length ? { note: notes.join(', ') } : {}),
          ...(b.errors ? { errors: b.errors } : {}),
          historyItems: users.reduce((n, u) => n + (b.lists.get(u) ?? []).filter((i) => own.get(u)!.has(i)).length, 0),
          heldOutFates: heldOutFates(users, split.heldOut, b.fates),
        },
      );
    });
    report.blend = report.blends[report.blends.length - 1];
    const unranked = served.blends.filter((b) => b.preScore);
    if (unranked.length)
      report.preScoreBlends = unranked.map((b) =>
        row(
          `Blend (page of ${b.limit}), pre-score order`,
          'blend',
          b.preScore!,
          ks.filter((k) => k <= b.limit),
          { note: 'the same candidates without the ranker' },
        ),
      );
  } catch (err) {
    report.meshError = (err as Error).message;
    log(`the mesh could not be evaluated on the training world: ${report.meshError}`);
  }
  return report;
}

/** Shares of the users' held-out items by where the Blend left them (page, filter, page rule, never proposed). */
export function heldOutFates(
  users: readonly string[],
  heldOut: ReadonlyMap<string, ReadonlySet<string>>,
  fates: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Record<string, number> {
  const counts = new Map<string, number>();
  let total = 0;
  for (const u of users)
    for (const item of heldOut.get(u) ?? []) {
      const fate = fates.get(u)?.get(item) ?? 'not_proposed';
      counts.set(fate, (counts.get(fate) ?? 0) + 1);
      total++;
    }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).map(([fate, n]) => [fate, n / Math.max(1, total)]));
}

// `feedloom eval --variants`: every test user's recorded generator answers replayed through the
// blend policy of the config as written and of each experiment's variant (the blender's own policy
// code: who is served at what quota, weights, rrfK, page rules), so a variant can be judged before it
// gets traffic. Every variant sees every test user (a paired comparison: the difference to the
// config as written is per user), with intervals over users by the bootstrap.
import type { VariantAssignment } from '../../../generated/feedloom/v1/blender.js';
import { VariantPolicies } from '../../../libs/blend/policy.js';
import type { ItemCatalog } from '../../../libs/blend/types.js';
import { bucketOf } from '../../../libs/blend/variants.js';
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { bootstrapInterval, meanInterval, type Interval } from '../../../libs/eval/bootstrap.js';
import { ReplayedBlend, type RecordedAnswers } from './replayed-blend.js';

/** Resamples per interval, and their level. */
const REPS = 1_000;
const LEVEL = 0.95;

export interface VariantEvalRow {
  /** "config as written", or "experiment:variant". */
  name: string;
  /** Generators the policy serves (switched on, not shadow). */
  served: string[];
  /** Share of the test users whose bucket falls in the variant (the traffic it would get). */
  bucketShare?: number;
  recall: Record<string, Interval>;
  /** Share of the catalog on some user's page (of the largest K); interval: the bootstrap's spread, centered on it. */
  coverage: Interval;
  /** Per user, recall minus the config as written's, averaged: above 0 with lo > 0 is a gain. */
  recallDelta?: Record<string, Interval>;
}

export interface VariantEvalReport {
  users: number;
  ks: number[];
  level: number;
  reps: number;
  rows: VariantEvalRow[];
  /** What the replay cannot show. */
  notes: string[];
}

export function evalVariants(
  mesh: MeshConfig,
  replay: {
    recorded: ReadonlyMap<string, RecordedAnswers>;
    /** A user's recall of a page at k, the metric of the eval it belongs to (its held-out items, its cut). */
    recallAt: (userId: string, page: readonly string[], k: number) => number;
    users: readonly string[];
    catalog: ItemCatalog;
    ks: number[];
  },
): VariantEvalReport {
  const { users, ks, catalog } = replay;
  const maxK = Math.max(...ks);
  const policies = new VariantPolicies(mesh);
  const arms: { name: string; variants: VariantAssignment[]; bucketShare?: number }[] = [
    { name: 'config as written', variants: [] },
    ...mesh.experiments.flatMap((e) =>
      e.variants.map((v) => ({
        name: `${e.name}:${v.name}`,
        variants: [{ experiment: e.name, variant: v.name }],
        bucketShare:
          users.filter((u) => v.buckets.some((r) => r.from <= bucketOf(u, e.name) && bucketOf(u, e.name) <= r.to))
            .length / Math.max(1, users.length),
      })),
    ),
  ];
  const options = { reps: REPS, level: LEVEL };
  let baseline: Float64Array[] | undefined;
  const rows = arms.map((arm): VariantEvalRow => {
    const policy = policies.of(arm.variants);
    const blend = new ReplayedBlend(policy, catalog, replay.recorded, maxK);
    const pages = users.map((u) => blend.servedPage(u));
    const recalls = ks.map((k) => Float64Array.from(users.map((u, i) => replay.recallAt(u, pages[i], k))));
    baseline ??= recalls;
    const base = baseline;
    const distinctShare = (drawn: ArrayLike<number>) => {
      const seen = new Set<string>();
      for (let i = 0; i < drawn.length; i++) for (const item of pages[drawn[i]]) seen.add(item);
      return catalog.size ? seen.size / catalog.size : 0;
    };
    const served = [...policy.plan.sources].filter(([, p]) => p.enabled && !p.shadow).map(([name]) => name);
    return {
      name: arm.name,
      served,
      bucketShare: arm.bucketShare,
      recall: Object.fromEntries(ks.map((k, j) => [`@${k}`, meanInterval(recalls[j], options)])),
      coverage: bootstrapInterval(users.length, distinctShare, { ...options, method: 'centered' }),
      recallDelta:
        arm.variants.length === 0
          ? undefined
          : Object.fromEntries(
              ks.map((k, j) => [
                `@${k}`,
                meanInterval(
                  recalls[j].map((r, i) => r - base[j][i]),
                  options,
                ),
              ]),
            ),
    };
  });
  const notes = [
    "Pages in pre-score order: the replay runs no ranker, so a variant's ranker settings (ranker.enabled, topN, version) are not measured here.",
    "A quota above the eval's K cannot add candidates: the generators were asked for K each.",
    "Coverage is distinct items over all these users, not a mean over them: its interval is the spread of the bootstrap draws put around the value (a resample's repeated users make it smaller, a drift that is not the users' variation), and rougher than the recall ones.",
  ];
  return { users: users.length, ks, level: LEVEL, reps: REPS, rows, notes };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`;
const interval = (i: Interval, show: (x: number) => string = pct) => `${show(i.value)} [${show(i.lo)}, ${show(i.hi)}]`;

export function formatVariantReport(r: VariantEvalReport): string {
  const ks = r.ks.map((k) => `@${k}`);
  const head = [
    'policy',
    'buckets',
    ...ks.map((k) => `recall${k}`),
    ...ks.map((k) => `Δ recall${k} (pp)`),
    `coverage${ks[ks.length - 1]}`,
    'served generators',
  ];
  const rows = r.rows.map((row) => [
    row.name,
    row.bucketShare === undefined ? '' : pct(row.bucketShare),
    ...ks.map((k) => interval(row.recall[k])),
    ...ks.map((k) => (row.recallDelta ? interval(row.recallDelta[k], pp) : '')),
    interval(row.coverage),
    row.served.length > 6 ? `${row.served.length} generators` : row.served.join(' '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [
    `variants, replayed over the same ${r.users} test users (each user through every policy); [${100 * r.level}% interval over users, ${r.reps} bootstrap resamples]`,
    'buckets: share of these users the variant would serve; Δ: per-user difference to the config as written, in percentage points',
    line(head),
    `|${widths.map((w, i) => (i === 0 || i === head.length - 1 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
    ...r.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

// What each variant's users did: engagement (clicks + saves per impression) per experiment variant
// over a window of the world's event log. The events carry no variant; each user's variant is
// worked out again from the same stable hash the blender uses (libs/blend/variants.ts), so the
// window must start after the experiment's buckets last changed.
import type { MeshConfig } from '../../../libs/config/mesh.js';
import { bucketOf } from '../../../libs/blend/variants.js';
import { newestEventMs, openDuck, queryRows } from '../../../libs/data/duck.js';
import { bootstrapInterval, type Interval } from '../../../libs/eval/bootstrap.js';
import { DAY_MS } from '../../../libs/data/world.js';

/** 1.96: a 95% normal interval from the bootstrap's standard errors, for the difference of two groups. */
const Z95 = 1.96;

export interface OutcomeRow {
  experiment: string;
  variant: string;
  /** Users of the variant with at least one impression in the window. */
  users: number;
  impressions: number;
  /** Clicks and saves. */
  engaged: number;
  /** engaged / impressions over the variant's users, with a 95% bootstrap interval over users. */
  rate: Interval;
  /** rate minus the experiment's first variant's (its control), 95% interval; absent on the first. */
  delta?: Interval;
}

export interface VariantOutcomes {
  fromMs: number;
  toMs: number;
  /** Users with an impression in the window, in or out of any experiment. */
  users: number;
  rows: OutcomeRow[];
}

interface UserCounts {
  user_id: string;
  impressions: number;
  engaged: number;
}

/** Engagement per variant over the world's events from `days` before its newest event (or `fromMs`) to it. */
export async function variantOutcomes(
  mesh: MeshConfig,
  o: { days?: number; fromMs?: number },
): Promise<VariantOutcomes> {
  const duck = await openDuck();
  try {
    // Also creates the events view the query below reads.
    const toMs = (await newestEventMs(duck.conn, mesh.world.dir)) + 1;
    const fromMs = o.fromMs ?? toMs - (o.days ?? 7) * DAY_MS;
    const counts = await queryRows<UserCounts>(
      duck.conn,
      `SELECT user_id,
              count(*) FILTER (WHERE action = 'impression') AS impressions,
              count(*) FILTER (WHERE action IN ('click', 'save')) AS engaged
         FROM events WHERE time_ms >= ${Math.floor(fromMs)} AND time_ms < ${Math.ceil(toMs)}
        GROUP BY user_id HAVING count(*) FILTER (WHERE action = 'impression') > 0
        ORDER BY user_id`,
    );
    const rows = mesh.experiments.filter((e) => e.enabled).flatMap((e) => experimentRows(e, counts));
    return { fromMs, toMs, users: counts.length, rows };
  } finally {
    duck.close();
  }
}

function experimentRows(experiment: MeshConfig['experiments'][number], counts: readonly UserCounts[]): OutcomeRow[] {
  const byVariant = new Map(experiment.variants.map((v) => [v.name, [] as UserCounts[]]));
  for (const c of counts) {
    const bucket = bucketOf(c.user_id, experiment.name);
    const variant = experiment.variants.find((v) => v.buckets.some((r) => r.from <= bucket && bucket <= r.to));
    if (variant) byVariant.get(variant.name)!.push(c);
  }
  const rows = experiment.variants.map((v): OutcomeRow => {
    const users = byVariant.get(v.name)!;
    const sum = (pick: (u: UserCounts) => number, drawn: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < drawn.length; i++) s += pick(users[drawn[i]]);
      return s;
    };
    const rateOf = (drawn: ArrayLike<number>) => {
      const impressions = sum((u) => u.impressions, drawn);
      return impressions > 0 ? sum((u) => u.engaged, drawn) / impressions : 0;
    };
    return {
      experiment: experiment.name,
      variant: v.name,
      users: users.length,
      impressions: users.reduce((s, u) => s + u.impressions, 0),
      engaged: users.reduce((s, u) => s + u.engaged, 0),
      rate: bootstrapInterval(users.length, rateOf),
    };
  });
  // The groups are independent: the difference's standard error from each one's bootstrap spread.
  const se = (i: Interval) => (i.hi - i.lo) / (2 * Z95);
  const [control, ...others] = rows;
  for (const r of others) {
    const value = r.rate.value - control.rate.value;
    const half = Z95 * Math.hypot(se(r.rate), se(control.rate));
    r.delta = { value, lo: value - half, hi: value + half };
  }
  return rows;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const pp = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`;

export function formatOutcomes(o: VariantOutcomes): string {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  const head = [
    'experiment:variant',
    'users',
    'impressions',
    'clicks+saves',
    'engagement [95%]',
    'Δ vs first (pp) [95%]',
  ];
  const rows = o.rows.map((r) => [
    `${r.experiment}:${r.variant}`,
    String(r.users),
    String(r.impressions),
    String(r.engaged),
    `${pct(r.rate.value)} [${pct(r.rate.lo)}, ${pct(r.rate.hi)}]`,
    r.delta ? `${pp(r.delta.value)} [${pp(r.delta.lo)}, ${pp(r.delta.hi)}]` : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const title = `engagement (clicks + saves per impression) per variant, events from ${day(o.fromMs)} to ${day(o.toMs)} (world time), ${o.users} users with impressions`;
  if (rows.length === 0) return `${title}\n(no enabled experiment in the config)`;
  return [title, line(head), ...rows.map(line)].join('\n');
}

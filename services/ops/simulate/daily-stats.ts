// What `simulate --live` reports per simulated day: feeds, impressions, the engagement rate
// (clicks + saves per impression), each generator's share of the engagement, and the model
// versions that served.
import type { BlendResponse } from '../../../generated/feedloom/v1/blender.js';
import type { LiveAction } from '../../../libs/data/simulator/index.js';

export interface DayStats {
  /** The simulated day, YYYY-MM-DD. */
  day: string;
  /** The world time of day play started (HH:MM), when it joined the day midway; else absent. */
  from?: string;
  feeds: number;
  /** Blends that failed (the session saw nothing). */
  failedFeeds: number;
  impressions: number;
  clicks: number;
  saves: number;
  hides: number;
  /** (clicks + saves) / impressions. */
  engagementRate: number;
  /**
   * Per generator: its share of the clicks and saves. An engaged item proposed by k generators
   * gives each 1/k, so the shares sum to 1.
   */
  engagementShare: Record<string, number>;
  /** Feeds served per two_tower model version (from the Blend's source status). */
  twoTower: Record<string, number>;
  /** Feeds served per ranker version ('unranked' when the Blend fell back to pre-score order). */
  ranker: Record<string, number>;
  /** How far behind the world clock sessions started at worst (simulated ms): the mesh kept up when small. */
  maxLagMs: number;
}

const count = (into: Record<string, number>, key: string) => (into[key] = (into[key] ?? 0) + 1);

/** Accumulates one day's sessions. */
export class DayTally {
  private readonly stats: DayStats;
  private readonly engagedBy: Record<string, number> = {};

  constructor(day: string, from?: string) {
    this.stats = {
      day,
      ...(from ? { from } : {}),
      feeds: 0,
      failedFeeds: 0,
      impressions: 0,
      clicks: 0,
      saves: 0,
      hides: 0,
      engagementRate: 0,
      engagementShare: {},
      twoTower: {},
      ranker: {},
      maxLagMs: 0,
    };
  }

  failed(): void {
    this.stats.failedFeeds++;
  }

  served(feed: BlendResponse, actions: readonly LiveAction[], lagMs: number): void {
    const s = this.stats;
    s.feeds++;
    s.maxLagMs = Math.max(s.maxLagMs, lagMs);
    const twoTower = feed.sources.find((src) => src.generator === 'two_tower');
    // No version: two_tower did not answer this Blend in time.
    if (twoTower) count(s.twoTower, twoTower.modelVersion || 'no-answer');
    count(s.ranker, feed.ranking?.ranked ? feed.ranking.modelVersion : 'unranked');
    const sourcesOf = new Map(feed.items.map((item) => [item.itemId, item.sources.map((p) => p.generator)]));
    for (const a of actions) {
      if (a.action === 'impression') s.impressions++;
      else if (a.action === 'hide') s.hides++;
      else {
        if (a.action === 'click') s.clicks++;
        else s.saves++;
        const sources = sourcesOf.get(a.itemId) ?? [];
        for (const g of sources) this.engagedBy[g] = (this.engagedBy[g] ?? 0) + 1 / sources.length;
      }
    }
  }

  result(): DayStats {
    const s = this.stats;
    const engaged = s.clicks + s.saves;
    s.engagementRate = s.impressions ? engaged / s.impressions : 0;
    s.engagementShare = Object.fromEntries(
      Object.entries(this.engagedBy)
        .sort((a, b) => b[1] - a[1])
        .map(([g, n]) => [g, n / engaged]),
    );
    return { ...s };
  }
}

export const DAY_TABLE_HEADER = [
  'day',
  'feeds',
  'failed',
  'impressions',
  'clicks',
  'saves',
  'hides',
  'engagement',
  'two_tower',
  'ranker',
] as const;

const WIDTHS = [10, 6, 6, 11, 6, 6, 6, 10, 0, 0];
const versions = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([v, n]) => `${v}×${n}`)
    .join(' ') || '-';

/** The header line of the daily table. */
export function formatDayHeader(): string {
  return DAY_TABLE_HEADER.map((h, i) => (i === 0 || i >= 8 ? h.padEnd(WIDTHS[i] || 16) : h.padStart(WIDTHS[i])))
    .join('  ')
    .trimEnd();
}

/** One day as a table row, then its engagement share by generator on the next line. */
export function formatDay(s: DayStats): string {
  const cells = [
    s.day.padEnd(10),
    String(s.feeds).padStart(6),
    String(s.failedFeeds).padStart(6),
    String(s.impressions).padStart(11),
    String(s.clicks).padStart(6),
    String(s.saves).padStart(6),
    String(s.hides).padStart(6),
    s.engagementRate.toFixed(4).padStart(10),
    versions(s.twoTower).padEnd(16),
    versions(s.ranker),
  ];
  const shares = Object.entries(s.engagementShare)
    .map(([g, share]) => `${g} ${(share * 100).toFixed(1)}%`)
    .join(', ');
  const partial = s.from ? `played from ${s.from}; ` : '';
  return `${cells.join('  ')}\n  ${partial}engagement by source: ${shares || '-'}`;
}

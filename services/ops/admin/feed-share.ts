// Each generator's share of the final feed: of the items that made a page, how many it proposed
// (alone or with others) and how many only it proposed.
//
// Preferred source: a blender counter of page items per proposing generator (not exported yet; see
// PAGE_ITEMS_METRIC). Until it exists, the admin samples a few real Blend calls (debug=false) per
// refresh for users drawn from the world's event log, and attributes each page item to its `sources`.
import type { TlsConfig } from '../../../libs/bootstrap/tls.js';
import { BlenderClient } from '../../../generated/feedloom/v1/blender.js';
import { callUnary } from '../../../libs/bootstrap/client.js';
import { addressOf, type MeshConfig } from '../../../libs/config/mesh.js';
import { eventsView, openDuck, queryRows } from '../../../libs/data/duck.js';
import { ClientPool, describeCallError } from './health-probe.js';
import { sumOf, type Scrape } from './prometheus.js';
import type { ScrapeHistory } from './scrapes.js';
import type { FeedShare, GeneratorShare } from './status.js';

/**
 * The counter the blender would export: +1 per (page item, proposing generator), attributes
 * generator=<name> and sole="true" when it was the item's only source. Page totals come from the
 * existing feedloom.blender.candidates histogram at stage="compose_page" (sum = items, count = pages).
 */
export const PAGE_ITEMS_METRIC = 'feedloom_blender_page_items_total';
const PAGE_SIZE_METRIC = 'feedloom_blender_candidates';

/** Share of the feed from the blender's own counters, when it exports them and has served pages. */
export function shareFromMetrics(scrapes: ScrapeHistory, url: string, generators: string[]): FeedShare | undefined {
  const span = scrapes.span(url);
  if (!span || !span.latest.has(PAGE_ITEMS_METRIC)) return undefined;
  const read = (scrape: Scrape) => ({
    items: sumOf(scrape, `${PAGE_SIZE_METRIC}_sum`, (l) => l.stage === 'compose_page') ?? 0,
    pages: sumOf(scrape, `${PAGE_SIZE_METRIC}_count`, (l) => l.stage === 'compose_page') ?? 0,
    proposed: (g: string) => sumOf(scrape, PAGE_ITEMS_METRIC, (l) => l.generator === g) ?? 0,
    sole: (g: string) => sumOf(scrape, PAGE_ITEMS_METRIC, (l) => l.generator === g && l.sole === 'true') ?? 0,
  });
  const now = read(span.latest);
  const before = span.base ? read(span.base) : undefined;
  // Over the window when pages were served in it (and no restart), else since the blender started.
  const windowed = before !== undefined && now.pages > before.pages;
  const minus = (a: number, b: number) => (windowed ? a - b : a);
  const items = minus(now.items, before?.items ?? 0);
  const pages = minus(now.pages, before?.pages ?? 0);
  if (pages <= 0 || items <= 0) return undefined;
  return {
    source: 'blender-metric',
    from: `${PAGE_ITEMS_METRIC}{generator,sole} / ${PAGE_SIZE_METRIC}_sum{stage="compose_page"} at ${url}`,
    window: windowed ? span.window : 'since start',
    pages,
    items,
    generators: generators.map((name) =>
      shareRow(
        name,
        minus(now.proposed(name), before?.proposed(name) ?? 0),
        minus(now.sole(name), before?.sole(name) ?? 0),
        items,
      ),
    ),
  };
}

const shareRow = (name: string, proposed: number, sole: number, items: number): GeneratorShare => ({
  name,
  proposed,
  sole,
  share: items > 0 ? proposed / items : 0,
  soleShare: items > 0 ? sole / items : 0,
});

/** Users to sample, weighted by activity: a reservoir sample of the event log's rows, deduplicated. */
export async function activityWeightedUsers(worldDir: string, n: number): Promise<string[]> {
  const duck = await openDuck();
  try {
    await eventsView(duck.conn, worldDir);
    const rows = await queryRows<{ user_id: string }>(
      duck.conn,
      `SELECT user_id FROM (SELECT user_id FROM events USING SAMPLE reservoir(${n * 4} ROWS) REPEATABLE (7)) GROUP BY user_id ORDER BY hash(user_id) LIMIT ${n}`,
    );
    return rows.map((r) => r.user_id);
  } finally {
    duck.close();
  }
}

export interface SamplerOptions {
  /** The mesh's TLS (security.tls), when configured. */
  tls?: TlsConfig;
  /** Users to ask feeds for; default: drawn from the world's event log. */
  users?: string[];
  /** Blend calls per sampling round. */
  perRound: number;
  /** Least time between rounds. */
  everyMs: number;
  /** Pages kept (the share covers these). */
  keepPages: number;
  timeoutMs: number;
}

interface SampledPage {
  atMs: number;
  /** For each page item, the generators that proposed it. */
  items: string[][];
}

/** Samples real Blend calls and keeps the last pages, to attribute page items to generators. */
export class FeedSampler {
  private readonly pages: SampledPage[] = [];
  private readonly blenders: ClientPool<BlenderClient>;
  private users?: Promise<string[]>;
  private next = 0;
  private lastRoundMs = -Infinity;
  private calls = 0;
  private failures = 0;
  private lastError?: string;
  private round?: Promise<void>;

  constructor(private readonly options: SamplerOptions) {
    this.blenders = new ClientPool(BlenderClient, options.tls);
  }

  private pool(worldDir: string): Promise<string[]> {
    this.users ??= this.options.users ? Promise.resolve(this.options.users) : activityWeightedUsers(worldDir, 200);
    return this.users;
  }

  get sampledPages(): number {
    return this.pages.length;
  }

  /** Starts a round if the last one is old enough (or joins the one running); never rejects. */
  maybeSample(mesh: MeshConfig, nowMs = Date.now()): Promise<void> {
    if (this.round) return this.round;
    if (nowMs - this.lastRoundMs < this.options.everyMs) return Promise.resolve();
    this.lastRoundMs = nowMs;
    this.round = this.sampleRound(mesh).finally(() => (this.round = undefined));
    return this.round;
  }

  private async sampleRound(mesh: MeshConfig): Promise<void> {
    let users: string[];
    try {
      users = await this.pool(mesh.world.dir);
    } catch (err) {
      this.users = undefined;
      this.lastError = `cannot read users from the world's event log: ${(err as Error).message}`;
      return;
    }
    if (users.length === 0) {
      this.lastError = 'no users to sample: the event log is empty';
      return;
    }
    const client = this.blenders.get(addressOf(mesh, mesh.services.blender));
    const limit = mesh.services.blender.defaultLimit;
    const round = Array.from(
      { length: Math.min(this.options.perRound, users.length) },
      () => users[this.next++ % users.length],
    );
    await Promise.all(
      round.map(async (userId) => {
        this.calls++;
        try {
          const page = await callUnary(
            client,
            'blend',
            { userId, limit, debug: false, requestId: `admin-sample-${this.calls}` },
            { timeoutMs: this.options.timeoutMs },
          );
          this.pages.push({
            atMs: Date.now(),
            items: page.items.map((item) => [...new Set(item.sources.map((s) => s.generator))]),
          });
          if (this.pages.length > this.options.keepPages) this.pages.shift();
        } catch (err) {
          this.failures++;
          this.lastError = `Blend for ${userId} failed: ${describeCallError(err as Error, this.options.timeoutMs)}`;
        }
      }),
    );
  }

  share(generators: string[], blenderAddress: string): FeedShare {
    const items = this.pages.reduce((n, p) => n + p.items.length, 0);
    const proposed = new Map<string, number>();
    const sole = new Map<string, number>();
    for (const page of this.pages) {
      for (const sources of page.items) {
        for (const g of sources) proposed.set(g, (proposed.get(g) ?? 0) + 1);
        if (sources.length === 1) sole.set(sources[0], (sole.get(sources[0]) ?? 0) + 1);
      }
    }
    const oldest = this.pages[0]?.atMs;
    const failed = this.failures
      ? ` ${this.failures} of ${this.calls} sampled calls failed (last: ${this.lastError}).`
      : '';
    return {
      source: this.pages.length ? 'sampled-blends' : 'none',
      from: `Blend(debug=false) calls made by the status page to ${blenderAddress}, page items attributed to their sources`,
      window: oldest
        ? `last ${this.pages.length} sampled pages, ${Math.max(1, Math.round((Date.now() - oldest) / 1000))} s`
        : 'no pages yet',
      pages: this.pages.length,
      items,
      generators: generators.map((name) => shareRow(name, proposed.get(name) ?? 0, sole.get(name) ?? 0, items)),
      note: this.pages.length ? failed.trim() || undefined : (this.lastError ?? 'No pages sampled yet.'),
    };
  }

  close(): void {
    this.blenders.close();
  }
}

// Scrapes of every metrics endpoint, kept for a while so figures can cover "the last minute"
// (the difference between now and a scrape about a minute old) instead of "since the process started".
import { scrapeMetrics, type Scrape } from './prometheus.js';

interface Kept {
  atMs: number;
  scrape: Scrape;
}

export class ScrapeHistory {
  private readonly kept = new Map<string, Kept[]>();
  /** Endpoints that answered on the last round, and why the others did not. */
  readonly up = new Map<string, boolean>();
  readonly errors = new Map<string, string>();

  constructor(private readonly windowMs: number) {}

  /** Scrapes every url once (in parallel); an endpoint that is down is remembered as down. */
  async scrapeAll(urls: string[], timeoutMs: number, nowMs = Date.now()): Promise<void> {
    await Promise.all(
      [...new Set(urls)].map(async (url) => {
        try {
          const scrape = await scrapeMetrics(url, timeoutMs);
          const list = this.kept.get(url) ?? [];
          list.push({ atMs: nowMs, scrape });
          // Keep just enough history to reach one window back: list[0] is the newest scrape a window old.
          while (list.length > 2 && list[1].atMs <= nowMs - this.windowMs) list.shift();
          this.kept.set(url, list);
          this.up.set(url, true);
          this.errors.delete(url);
        } catch (err) {
          this.up.set(url, false);
          this.errors.set(
            url,
            (err as Error).cause
              ? String(((err as Error).cause as Error).message ?? (err as Error).cause)
              : (err as Error).message,
          );
        }
      }),
    );
  }

  latest(url: string): Scrape | undefined {
    return this.up.get(url) ? this.kept.get(url)?.at(-1)?.scrape : undefined;
  }

  /** The newest scrape at least one window old (or the oldest kept), never the latest itself. */
  private baseline(url: string): Kept | undefined {
    const list = this.kept.get(url) ?? [];
    return list.length > 1 ? list[0] : undefined;
  }

  /** The latest scrape and the baseline a window back (if any), for figures that combine several series. */
  span(url: string): { latest: Scrape; base?: Scrape; window: string } | undefined {
    const latest = this.latest(url);
    if (!latest) return undefined;
    const base = this.baseline(url);
    const latestAt = this.kept.get(url)!.at(-1)!.atMs;
    return base
      ? { latest, base: base.scrape, window: `last ${Math.max(1, Math.round((latestAt - base.atMs) / 1000))} s` }
      : { latest, window: 'since start' };
  }
}

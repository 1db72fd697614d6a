// Reading the Prometheus text format the services expose (OpenTelemetry's Prometheus exporter):
// samples by name, histograms summed over the series a filter picks, quantiles as Prometheus's
// histogram_quantile computes them.

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

/** Samples by metric name (e.g. rpc_server_duration_bucket). */
export type Scrape = Map<string, Sample[]>;

/** A cumulative histogram: count of observations ≤ each bound, plus the total count and sum. */
export interface Histogram {
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;

/** Parses the text exposition format; comments and malformed lines are skipped. */
export function parsePrometheus(text: string): Scrape {
  const scrape: Scrape = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = parseValue(m[4]);
    if (Number.isNaN(value)) continue;
    const samples = scrape.get(m[1]) ?? [];
    samples.push({ labels: m[3] ? parseLabels(m[3]) : {}, value });
    scrape.set(m[1], samples);
  }
  return scrape;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function parseLabels(text: string): Labels {
  const labels: Labels = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ',' || text[i] === ' ') i++;
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const name = text.slice(i, eq).trim();
    i = eq + 1;
    if (text[i] !== '"') break;
    i++;
    let value = '';
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\' && i + 1 < text.length) {
        const next = text[i + 1];
        value += next === 'n' ? '\n' : next;
        i += 2;
      } else value += text[i++];
    }
    i++; // closing quote
    labels[name] = value;
  }
  return labels;
}

/**
 * The histogram `family` (e.g. rpc_server_duration) summed over every series whose labels pass
 * `filter` (other labels, such as status code or method, are added up). Undefined when no series matches.
 */
export function histogramOf(
  scrape: Scrape,
  family: string,
  filter: (labels: Labels) => boolean,
): Histogram | undefined {
  const byBound = new Map<number, number>();
  let matched = false;
  for (const s of scrape.get(`${family}_bucket`) ?? []) {
    if (!filter(s.labels)) continue;
    matched = true;
    const le = parseValue(s.labels.le ?? '+Inf');
    byBound.set(le, (byBound.get(le) ?? 0) + s.value);
  }
  if (!matched) return undefined;
  const total = (suffix: string) =>
    (scrape.get(`${family}_${suffix}`) ?? []).filter((s) => filter(s.labels)).reduce((n, s) => n + s.value, 0);
  const buckets = [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const count = total('count') || (buckets.at(-1)?.count ?? 0);
  return { buckets, count, sum: total('sum') };
}

/** Observations made between `before` and `after` (two scrapes of the same series). */
export function histogramDelta(after: Histogram, before: Histogram | undefined): Histogram {
  // A restarted process starts its counters again: then everything in `after` is new.
  if (!before || after.count < before.count) return after;
  const prior = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: Math.max(0, b.count - (prior.get(b.le) ?? 0)) })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/**
 * The q-quantile by linear interpolation inside the bucket holding it, as Prometheus's
 * histogram_quantile does; the +Inf bucket answers with the highest finite bound.
 */
export function histogramQuantile(h: Histogram, q: number): number {
  if (h.count <= 0 || h.buckets.length === 0) return NaN;
  const rank = q * h.count;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevBound;
      const inBucket = b.count - prevCount;
      return inBucket > 0 ? prevBound + (b.le - prevBound) * ((rank - prevCount) / inBucket) : b.le;
    }
    prevBound = b.le === Infinity ? prevBound : b.le;
    prevCount = b.count;
  }
  return prevBound;
}

/** Sum of a counter's (or gauge's) samples whose labels pass `filter`; undefined when none match. */
export function sumOf(
  scrape: Scrape,
  name: string,
  filter: (labels: Labels) => boolean = () => true,
): number | undefined {
  const samples = (scrape.get(name) ?? []).filter((s) => filter(s.labels));
  return samples.length ? samples.reduce((n, s) => n + s.value, 0) : undefined;
}

/** Fetches and parses one /metrics endpoint. */
export async function scrapeMetrics(url: string, timeoutMs: number): Promise<Scrape> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return parsePrometheus(await response.text());
}

// Small inline-SVG charts, made here (no chart library, nothing fetched): bars for table cells,
// a scale for column heads, and a state timeline for model versions.

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/\.?0+$/, ''));

/** The smallest 1, 2, 2.5 or 5 × 10^n at or above x (a round end for a scale). */
export function niceMax(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-9)) return m * p;
  return 10 * p;
}

export interface BarOptions {
  /** The bar's length, in the units of max. */
  value: number;
  max: number;
  /** A second, darker bar drawn over the first from zero (e.g. the part a generator proposed alone). */
  inner?: number;
  width?: number;
  height?: number;
  color?: string;
  innerColor?: string;
  /** Tooltip text. */
  title: string;
}

/** One horizontal bar on a light track, optionally with a darker inner bar; values past max are clipped. */
export function bar(o: BarOptions): string {
  const width = o.width ?? 150;
  const height = o.height ?? 14;
  const scale = (v: number) => Math.max(0, Math.min(width, (v / (o.max || 1)) * width));
  const outer = scale(o.value);
  const inner = o.inner === undefined ? 0 : scale(o.inner);
  const clipped =
    o.value > o.max ? `<path d="M${width - 5} 2 l4 ${(height - 4) / 2} l-4 ${(height - 4) / 2}" fill="#fff"/>` : '';
  return (
    `<svg class="bar" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(o.title)}">` +
    `<title>${escapeHtml(o.title)}</title>` +
    `<rect x="0" y="0" width="${width}" height="${height}" rx="2" fill="#eef1f5"/>` +
    `<rect x="0" y="0" width="${outer.toFixed(1)}" height="${height}" rx="2" fill="${o.color ?? '#8fb8e8'}"/>` +
    (inner > 0
      ? `<rect x="0" y="0" width="${inner.toFixed(1)}" height="${height}" rx="2" fill="${o.innerColor ?? '#2f6db5'}"/>`
      : '') +
    clipped +
    `</svg>`
  );
}

/** A scale for a column of bars: 0, half and max, with a unit. */
export function scale(max: number, unit: string, width = 150): string {
  // The unit only on the last label, so the three fit a narrow column.
  const label = (v: number, last: boolean) => `${fmt(v)}${last ? unit : ''}`;
  return (
    `<svg class="scale" width="${width}" height="14" viewBox="0 0 ${width} 14" aria-hidden="true">` +
    `<line x1="0.5" y1="10" x2="${width - 0.5}" y2="10" stroke="#b7c0cc"/>` +
    [0, 0.5, 1]
      .map((f) => {
        const x = Math.min(width - 0.5, Math.max(0.5, f * width));
        const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
        return `<line x1="${x}" y1="7" x2="${x}" y2="13" stroke="#b7c0cc"/><text x="${x}" y="6" font-size="8.5" text-anchor="${anchor}" fill="#6b7785">${escapeHtml(label(max * f, f === 1))}</text>`;
      })
      .join('') +
    `</svg>`
  );
}

export const STATE_COLORS: Record<string, string> = {
  training: '#b8c2cc',
  trained: '#8795a1',
  validated: '#3c8dbc',
  rejected: '#d64545',
  published: '#8e6bbf',
  serving: '#2e9e5b',
  retired: '#d5dae0',
  rolled_back: '#e8833a',
  unreadable: '#d64545',
};

export interface TimelineSegment {
  state: string;
  fromMs: number;
  toMs: number;
  note: string;
}

/** One version's states over time, as coloured segments on a shared time axis [startMs, endMs]. */
export function timeline(
  segments: TimelineSegment[],
  startMs: number,
  endMs: number,
  width = 320,
  height = 14,
): string {
  const span = Math.max(1, endMs - startMs);
  const x = (ms: number) => ((Math.min(endMs, Math.max(startMs, ms)) - startMs) / span) * width;
  const rects = segments
    .map((s) => {
      const x0 = x(s.fromMs);
      const w = Math.max(2, x(s.toMs) - x0);
      const title = `${s.state} from ${new Date(s.fromMs).toISOString().replace('T', ' ').slice(0, 19)}${s.note ? ` — ${s.note}` : ''}`;
      return `<rect x="${x0.toFixed(1)}" y="1" width="${w.toFixed(1)}" height="${height - 2}" fill="${STATE_COLORS[s.state] ?? '#999'}"><title>${escapeHtml(title)}</title></rect>`;
    })
    .join('');
  return `<svg class="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="state history"><rect x="0" y="0" width="${width}" height="${height}" fill="#f5f7fa"/>${rects}</svg>`;
}

/** Start and end labels for a timeline column. */
export function timeAxis(startMs: number, endMs: number, width = 320): string {
  const label = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(5, 16);
  return (
    `<svg class="scale" width="${width}" height="14" viewBox="0 0 ${width} 14" aria-hidden="true">` +
    `<line x1="0.5" y1="10" x2="${width - 0.5}" y2="10" stroke="#b7c0cc"/>` +
    `<text x="0" y="7" font-size="8.5" fill="#6b7785">${escapeHtml(label(startMs))} UTC</text>` +
    `<text x="${width}" y="7" font-size="8.5" text-anchor="end" fill="#6b7785">now</text></svg>`
  );
}

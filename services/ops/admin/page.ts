// The status page as HTML: rendered here from a StatusSnapshot. The page reloads its body from
// /fragment every refresh (no flicker, scroll kept); without JavaScript a meta refresh does it.
import { formatEvery } from '../scheduler/state.js';
import { experimentsSection } from './experiments-section.js';
import {
  bar,
  escapeHtml as e,
  niceMax,
  scale,
  STATE_COLORS,
  timeAxis,
  timeline,
  type TimelineSegment,
} from './charts.js';
import type {
  EvalView,
  FeedShare,
  GeneratorShare,
  Health,
  LatencyStats,
  ModelsView,
  QuotaView,
  ServiceStatus,
  StatusSnapshot,
} from './status.js';

const HEALTH_COLORS: Record<Health, string> = {
  SERVING: '#2e9e5b',
  NOT_SERVING: '#e0a800',
  UNKNOWN: '#8795a1',
  SERVICE_UNKNOWN: '#8795a1',
  UNREACHABLE: '#d64545',
};

const SOURCE_LABELS: Record<LatencyStats['source'], string> = {
  server: 'server-side',
  'server-shared': 'shared endpoint',
  'blender-client': 'via blender',
  'health-check': 'health check',
};

/** Width of the bars in the generator table, px. */
const BAR = 120;
const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)}%`;
export const formatMs = (ms: number) =>
  !Number.isFinite(ms)
    ? '–'
    : ms < 1
      ? `${ms.toFixed(2)} ms`
      : ms < 10
        ? `${ms.toFixed(1)} ms`
        : `${Math.round(ms)} ms`;
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
const shortName = (name: string) => name.replace(/^generator\./, '');

function latencyText(l: LatencyStats | undefined): string {
  if (!l) return '<span class="muted">no latency figures</span>';
  if (l.source === 'health-check') return `round trip ${formatMs(l.p50Ms)}`;
  return `mean ${formatMs(l.meanMs)} · p99 ${formatMs(l.p99Ms)}`;
}

function latencyTitle(l: LatencyStats | undefined): string {
  if (!l) return 'no latency figures';
  const errors = l.errorShare !== undefined ? `, ${pct(l.errorShare)} not OK (${pct(l.lateShare ?? 0)} late)` : '';
  return `${l.calls} calls, ${l.window}: mean ${formatMs(l.meanMs)}, p50 ${formatMs(l.p50Ms)}, p99 ${formatMs(l.p99Ms)}${errors}. From ${l.from}`;
}

/** "12% late", "3% failed" or both, for calls that did not end OK. */
function errorsText(l: LatencyStats): string {
  const late = l.lateShare ?? 0;
  const failed = (l.errorShare ?? 0) - late;
  const parts = [
    ...(late >= 0.005 ? [`<span title="ran past their deadline or were cancelled">${pct(late, 0)} late</span>`] : []),
    ...(failed >= 0.005 ? [`<span title="ended with another non-OK status">${pct(failed, 0)} failed</span>`] : []),
  ];
  return parts.length ? ` <span class="bad">${parts.join(', ')}</span>` : '';
}

/** What the blender asks a generator for now, out of its configured quota, and the target that moves it. */
function quotaCell(q: QuotaView | undefined): string {
  if (!q) return '<td></td>';
  const adaptive = q.latencyTargetMs !== undefined;
  const now = q.current === undefined ? '?' : String(q.current);
  const title = adaptive
    ? `asked for ${now} of its configured ${q.configured}: cut while the p99 of its recent calls runs over ${q.latencyTargetMs} ms, raised back once well under it`
    : `asked for its configured ${q.configured} (no latencyTargetMs: the quota does not move)`;
  const shown = q.current !== undefined && q.current < q.configured ? `<span class="warn">${now}</span>` : now;
  return (
    `<td class="num" data-quota="${q.current ?? ''}" title="${e(title)}">${shown} / ${q.configured}` +
    `${adaptive ? `<br><span class="muted">target p99 ${q.latencyTargetMs} ms</span>` : ''}</td>`
  );
}

function tile(s: ServiceStatus): string {
  const disabled = s.enabled === false ? ' <span class="chip">disabled</span>' : '';
  const title = `${s.name} at ${s.address}: ${s.health}${s.detail ? ` (${s.detail})` : ''}. ${latencyTitle(s.latency)}`;
  const source = s.latency ? `<span class="src">${e(SOURCE_LABELS[s.latency.source])}</span>` : '';
  return (
    `<div class="tile" data-service="${e(s.name)}" data-health="${s.health}" title="${e(title)}" style="border-left-color:${HEALTH_COLORS[s.health]}">` +
    `<div class="tile-top"><span class="name">${e(shortName(s.name))}</span>${disabled}<span class="state" style="color:${HEALTH_COLORS[s.health]}">${s.health.replace('_', ' ')}</span></div>` +
    `<div class="tile-lat">${s.health === 'UNREACHABLE' ? `<span class="bad">${e(s.detail ?? 'unreachable')}</span>` : latencyText(s.latency)}</div>` +
    `<div class="tile-addr"><span class="addr">${e(s.address)}</span>${source}</div>` +
    `</div>`
  );
}

function servicesSection(services: ServiceStatus[]): string {
  const core = services.filter((s) => s.role !== 'generator');
  const gens = services.filter((s) => s.role === 'generator');
  return (
    `<section><h2>Services <span class="sub">grpc.health.v1 Check of each, and its latency</span></h2>` +
    `<div class="tiles">${core.map(tile).join('')}</div>` +
    `<h3>Generators <span class="sub">(generator.&lt;name&gt;)</span></h3><div class="tiles">${gens.map(tile).join('')}</div></section>`
  );
}

function generatorTable(snapshot: StatusSnapshot): string {
  const gens = snapshot.services.filter((s) => s.role === 'generator');
  const share = new Map(snapshot.feedShare.generators.map((g) => [g.name, g]));
  const ev = snapshot.eval.available ? snapshot.eval : undefined;
  const evalRows = new Map((ev?.generators ?? []).map((r) => [r.name, r]));
  const kLow = ev ? `@${ev.ks[0]}` : '';
  const kHigh = ev ? `@${ev.ks[ev.ks.length - 1]}` : '';

  const latMax = niceMax(Math.max(...gens.map((g) => (g.latency ? g.latency.p99Ms : 0)).filter(Number.isFinite), 1));
  const shareMax = niceMax(Math.max(...snapshot.feedShare.generators.map((g) => g.share), 0.01));
  const recallMax = niceMax(
    Math.max(...(ev ? [...ev.generators.map((r) => r.recall[kHigh] ?? 0), ev.blend?.recall[kHigh] ?? 0] : [0]), 0.01),
  );

  const order = [...gens].sort(
    (a, b) =>
      (share.get(shortName(b.name))?.share ?? 0) - (share.get(shortName(a.name))?.share ?? 0) ||
      (evalRows.get(shortName(b.name))?.recall[kHigh] ?? 0) - (evalRows.get(shortName(a.name))?.recall[kHigh] ?? 0),
  );

  // true@K ÷oracle: expected engagement if shown over the oracle's, at most 1 (simulated worlds only).
  const trueCell = (ratio: Record<string, number> | undefined) =>
    ratio?.[kHigh] === undefined ? '' : `${ratio[kHigh].toFixed(3)}×`;
  const rows = order.map((s) => {
    const name = shortName(s.name);
    const sh: GeneratorShare | undefined = share.get(name);
    const r = evalRows.get(name);
    const l = s.latency;
    const latCell = l
      ? `${bar({ width: BAR, value: l.p99Ms, inner: l.meanMs, max: latMax, color: '#f3c98b', innerColor: '#d9822b', title: latencyTitle(l) })}<span class="num">${formatMs(l.meanMs)} / ${formatMs(l.p99Ms)}</span>${errorsText(l)}`
      : '<span class="muted">–</span>';
    const shareCell =
      sh && snapshot.feedShare.items > 0
        ? `${bar({ width: BAR, value: sh.share, inner: sh.soleShare, max: shareMax, title: `proposed ${sh.proposed} of ${snapshot.feedShare.items} page items (${pct(sh.share)}); the only source of ${sh.sole} (${pct(sh.soleShare)})` })}<span class="num">${pct(sh.share, 0)}${sh.sole ? ` <span class="muted">(${sh.soleShare < 0.01 ? '<1%' : pct(sh.soleShare, 0)} alone)</span>` : ''}</span>`
        : '<span class="muted">–</span>';
    const recallCell = r
      ? `${bar({ width: BAR, value: r.recall[kHigh] ?? 0, inner: r.recall[kLow] ?? 0, max: recallMax, color: '#9fd3b0', innerColor: '#2e8b57', title: `recall${kLow} ${pct(r.recall[kLow] ?? 0)}, recall${kHigh} ${pct(r.recall[kHigh] ?? 0)}` })}<span class="num">${pct(r.recall[kLow] ?? 0)} / ${pct(r.recall[kHigh] ?? 0)}</span>`
      : `<span class="muted">${ev ? 'not in the last eval' : '–'}</span>`;
    return (
      `<tr data-generator="${e(name)}">` +
      `<td><span class="dot" style="background:${HEALTH_COLORS[s.health]}" title="${s.health}"></span>${e(name)}${s.enabled === false ? ' <span class="chip">disabled</span>' : ''}${s.shadow ? ' <span class="chip">shadow</span>' : ''}</td>` +
      `<td class="kind">${e(s.kind ?? '')}</td>` +
      `<td>${latCell}</td>${quotaCell(s.quota)}<td>${shareCell}</td><td data-recall="${r ? (r.recall[kHigh] ?? 0).toFixed(4) : ''}">${recallCell}</td>` +
      `<td class="num" data-true>${trueCell(r?.trueVsOracle)}</td>` +
      `<td class="num">${r ? pct(r.coverage) : ''}</td><td class="num">${r ? pct(r.marginal) : ''}</td>` +
      `</tr>`
    );
  });
  const ref = (label: string, recall: Record<string, number> | undefined, ratio?: Record<string, number>) =>
    recall
      ? `<tr class="ref"><td colspan="5">${e(label)}</td><td>${bar({ width: BAR, value: recall[kHigh] ?? 0, inner: recall[kLow] ?? 0, max: recallMax, color: '#c9d3dd', innerColor: '#6b7785', title: `${label}: recall${kLow} ${pct(recall[kLow] ?? 0)}, recall${kHigh} ${pct(recall[kHigh] ?? 0)}` })}<span class="num">${pct(recall[kLow] ?? 0)} / ${pct(recall[kHigh] ?? 0)}</span></td><td class="num">${trueCell(ratio)}</td><td class="num">${label.startsWith('blend') && ev?.blend ? pct(ev.blend.coverage) : ''}</td><td></td></tr>`
      : '';
  const fs = snapshot.feedShare;
  return (
    `<section><h2>Generators <span class="sub">latency · quota · share of the final feed · recall in the last eval</span></h2>` +
    `<table class="gens"><thead><tr>` +
    `<th>generator</th><th>kind</th>` +
    `<th>latency mean / p99 <span class="muted">(dark: mean)</span><br>${gens.some((g) => g.latency) ? scale(latMax, ' ms', BAR) : ''}</th>` +
    `<th>quota <span class="muted">now / configured</span></th>` +
    `<th>share of page items <span class="muted">(dark: only source)</span><br>${snapshot.feedShare.items > 0 ? scale(100 * shareMax, '%', BAR) : ''}</th>` +
    `<th>${ev ? `recall${e(kLow)} / recall${e(kHigh)}` : 'recall'}${ev ? ` <span class="muted">(dark: ${e(kLow)})</span>` : ''}<br>${ev ? scale(100 * recallMax, '%', BAR) : ''}</th>` +
    `<th>true${e(kHigh)} ÷oracle <span class="muted">(≤ 1)</span></th><th>coverage</th><th>marginal</th></tr></thead><tbody>` +
    rows.join('') +
    (ev
      ? ref('blend (all generators, pre-score order)', ev.blend?.recall, ev.blend?.trueVsOracle) +
        ref(
          'oracle (top true P(engage | shown); its recall for reference)',
          ev.oracle?.recall,
          ev.oracle?.trueAtK && Object.fromEntries(Object.keys(ev.oracle.trueAtK).map((k) => [k, 1])),
        )
      : '') +
    `</tbody></table>` +
    latencyFoot(gens) +
    `<p class="foot">Share of the feed: ${fs.pages} pages, ${fs.items} items (${e(fs.window)}); an item proposed by several generators counts for each, so shares add up to more than 100%.` +
    `${fs.note ? ` <span class="warn">${e(fs.note)}</span>` : ''}</p>` +
    evalFoot(snapshot.eval) +
    `</section>`
  );
}

function latencyFoot(gens: ServiceStatus[]): string {
  const groups = new Map<string, number>();
  for (const g of gens) {
    const key = g.latency ? `${SOURCE_LABELS[g.latency.source]}, ${g.latency.window}` : 'no figures';
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const parts = [...groups].map(([key, n]) => `${e(key)}${groups.size > 1 ? ` (${n})` : ''}`);
  return `<p class="foot">Generator latency: ${parts.join('; ')}.</p>`;
}

function evalFoot(ev: EvalView): string {
  if (!ev.available)
    return `<p class="foot">Recall: <span class="warn">${e(ev.reason)}</span> <span class="muted">(${e(ev.path)})</span></p>`;
  return `<p class="foot">Recall: eval of ${e(ev.world)}, test day ${e(ev.testDay)}, ${ev.users} users${ev.finishedAt ? `, finished ${e(ev.finishedAt.replace('T', ' ').slice(0, 16))} UTC` : ''} <span class="muted">(${e(ev.path)})</span>.${trueFoot(ev)}</p>`;
}

function trueFoot(ev: Extract<EvalView, { available: true }>): string {
  const k = `@${ev.ks[ev.ks.length - 1]}`;
  const best = ev.oracle?.trueAtK?.[k];
  if (best === undefined) return '';
  return ` true${e(k)} ÷oracle: expected clicks plus saves if the first ${e(k.slice(1))} were shown, by the simulator's own P(engage | shown), over the oracle's (${best.toFixed(2)} per user); no list can exceed 1. Recall counts the logged engagements, which depend on what the simulated feed showed.`;
}

function segmentsOf(history: { state: string; atMs: number; note: string }[], nowMs: number): TimelineSegment[] {
  return history.map((h, i) => ({ state: h.state, fromMs: h.atMs, toMs: history[i + 1]?.atMs ?? nowMs, note: h.note }));
}

function modelsSection(models: ModelsView, nowMs: number): string {
  const hosts = models.annHosts;
  const viewer = models.viewer;
  const reg = models.registry;
  if (!hosts.length && !viewer && !reg.models.length) {
    return `<section><h2>Models</h2><p class="muted">No learned model is served: the config lists no ANN hosts and no viewer, and ${e(reg.reason ?? `the registry at ${reg.dir} holds no versions`)}.</p></section>`;
  }
  const unreachable = [
    ...hosts.filter((h) => !h.reachable).map((h) => `ANN host ${h.name} (${h.address}): ${h.error}`),
    ...(viewer && !viewer.reachable ? [`viewer (${viewer.address}): ${viewer.error}`] : []),
  ];
  const modelNames = [
    ...new Set([
      ...reg.models.map((m) => m.model),
      ...hosts.flatMap((h) => h.models.map((m) => m.model)),
      ...(viewer?.versions.map((v) => v.model) ?? []),
    ]),
  ].sort();
  const blocks = modelNames.map((model) => {
    const fromRegistry = reg.models.find((m) => m.model === model)?.versions ?? [];
    const seen = new Set(fromRegistry.map((v) => v.version));
    // Versions hosts or the viewer hold that the registry (or its shown window) does not list.
    const extra = [
      ...hosts.flatMap((h) => h.models.filter((m) => m.model === model).flatMap((m) => m.loadedVersions)),
      ...(viewer?.versions.filter((v) => v.model === model).map((v) => v.version) ?? []),
    ]
      .filter((v) => !seen.has(v) && seen.add(v))
      .map((version) => ({
        version,
        state: 'not in registry',
        history: [] as { state: string; atMs: number; note: string }[],
      }));
    const versions = [...fromRegistry, ...extra].sort((a, b) =>
      a.version < b.version ? 1 : a.version > b.version ? -1 : 0,
    );
    const starts = versions.flatMap((v) => v.history.map((h) => h.atMs));
    const startMs = starts.length ? Math.min(...starts) : nowMs - 3_600_000;
    const hostCols = hosts.map((h) => `<th>ANN ${e(h.name)}</th>`).join('');
    const rows = versions.map((v) => {
      const cells = hosts
        .map((h) => {
          const m = h.models.find((x) => x.model === model);
          if (!h.reachable) return '<td class="muted">?</td>';
          if (m?.servingVersion === v.version)
            return `<td class="serving" title="serves ${e(v.version)}: ${m.items} items, d=${m.dim}, ${e(m.indexType)}">● serving</td>`;
          if (m?.loadedVersions.includes(v.version)) return '<td title="loaded, not serving">○ loaded</td>';
          return '<td class="muted">–</td>';
        })
        .join('');
      const viewerCell = viewer
        ? viewer.reachable
          ? viewer.versions.some((x) => x.model === model && x.version === v.version)
            ? '<td>✓ holds</td>'
            : '<td class="muted">–</td>'
          : '<td class="muted">?</td>'
        : '';
      const chip = `<span class="chip" style="background:${STATE_COLORS[v.state] ?? '#ccd'};color:${['retired', 'training'].includes(v.state) ? '#333' : '#fff'}">${e(v.state)}</span>`;
      const history = v.history.length
        ? timeline(segmentsOf(v.history, nowMs), startMs, nowMs)
        : '<span class="muted">no history</span>';
      const steps = v.history.map((h) => h.state).join(' → ');
      return `<tr data-version="${e(v.version)}"><td>${e(v.version)}</td><td>${chip}</td>${viewerCell}${cells}<td title="${e(steps)}">${history}</td></tr>`;
    });
    return (
      `<h3>${e(model)}</h3><table class="models"><thead><tr><th>version</th><th>state</th>${viewer ? '<th>viewer</th>' : ''}${hostCols}<th>state history<br>${timeAxis(startMs, nowMs)}</th></tr></thead>` +
      `<tbody>${rows.join('')}</tbody></table>`
    );
  });
  const legend = Object.entries(STATE_COLORS)
    .filter(([s]) => s !== 'unreadable')
    .map(([s, c]) => `<span class="legend"><i style="background:${c}"></i>${e(s)}</span>`)
    .join('');
  return (
    `<section><h2>Models <span class="sub">versions on each ANN host and the viewer, and their state history in the registry</span></h2>` +
    (unreachable.length ? `<p class="warn">${unreachable.map(e).join('<br>')}</p>` : '') +
    blocks.join('') +
    `<p class="foot">${legend}<br>Registry: ${e(reg.dir)}${reg.available ? '' : ` — ${e(reg.reason ?? '')}`}.</p></section>`
  );
}

function scheduleSection(schedule: StatusSnapshot['schedule'], nowMs: number): string {
  const names = Object.keys(schedule.jobs);
  const head = `<section><h2>Schedule <span class="sub">the scheduler's jobs: last run and result, next run${schedule.leader ? ` · leader ${e(schedule.leader.holder)}` : ' · no leader'}</span></h2>`;
  if (names.length === 0)
    return `${head}<p class="muted">No scheduler has run on this world (the config's schedule, or no scheduler component).</p></section>`;
  const at = (ms?: number) => (ms === undefined ? '-' : `${clock(ms)} UTC`);
  const rows = names.map((name) => {
    const j = schedule.jobs[name];
    const result = j.running ? 'running' : (j.lastResult ?? 'not run yet');
    const next = j.nextRunMs === undefined ? '-' : j.nextRunMs <= nowMs ? 'due now' : at(j.nextRunMs);
    return (
      `<tr data-job="${e(name)}"><td>${e(name)}</td><td>${e(formatEvery(j.everyMs))}</td>` +
      `<td>${at(j.running?.sinceMs ?? j.lastStartMs)}</td><td class="result-${e(result)}">${e(result)}</td>` +
      `<td>${next}</td><td class="muted">${e(j.lastDetail ?? '')}</td></tr>`
    );
  });
  return (
    `${head}<table class="schedule"><thead><tr><th>job</th><th>every</th><th>last run</th><th>result</th><th>next run</th><th>detail</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></section>`
  );
}

function sourcesSection(snapshot: StatusSnapshot): string {
  const byLatencySource = new Map<string, string[]>();
  for (const s of snapshot.services) {
    const key = s.latency ? SOURCE_LABELS[s.latency.source] : 'no figures (unreachable)';
    byLatencySource.set(key, [...(byLatencySource.get(key) ?? []), s.name]);
  }
  const latencyLines = [...byLatencySource]
    .map(([source, names]) => `<li><b>${e(source)}</b>: ${names.map(e).join(', ')}</li>`)
    .join('');
  const fs: FeedShare = snapshot.feedShare;
  return (
    `<section class="sources"><h2>Where the numbers come from</h2><ul>` +
    `<li><b>Health</b>: a grpc.health.v1 Health/Check (service "", the whole server) from this page to every service in the mesh config, on every refresh.</li>` +
    `<li><b>Latency</b>, best source first: rpc_server_duration on the service's own Prometheus endpoint (gRPC port + telemetry.metricsPortOffset); ` +
    `for a service that runs once, the same histogram on a shared endpoint (all-in-one serves one beside the blender); for generators, the blender's rpc_client_duration{feedloom_generator}; ` +
    `else the round trip of the health check. Means are exact (sum / count); p99 is interpolated inside histogram buckets, so it is only as fine as the buckets. ` +
    `Figures cover a recent window (about a minute, two scrapes apart) when there were calls in it, else the time since the process started; hover a figure for its series, window and p50.<ul>${latencyLines}</ul></li>` +
    `<li><b>Quota</b>: what the blender asks each generator for now, its gauge feedloom_blender_generator_quota, out of generators[i].quota in the mesh config; ` +
    `a generator with a latencyTargetMs is asked for less while the p99 of its recent calls runs over it, and for more again once well under it (services.blender.adaptiveQuota).</li>` +
    `<li><b>Share of the feed</b>: ${e(fs.from)} (${e(fs.window)}).</li>` +
    `<li><b>Recall</b> and <b>true@K ÷oracle</b>: ${e(snapshot.eval.path)}, written by <code>npx feedloom eval</code> (true@K ÷oracle on simulated worlds only: it needs the simulator's own model).</li>` +
    `<li><b>Models</b>: AnnSearch/GetVersions on each ANN host, ViewerModel/ListVersions on the viewer, state.json of each version in the registry.</li>` +
    `</ul>` +
    (snapshot.notes.length ? `<ul class="notes">${snapshot.notes.map((n) => `<li>${e(n)}</li>`).join('')}</ul>` : '') +
    `</section>`
  );
}

/** The page body (also served alone at /fragment for the in-page refresh). */
export function renderBody(snapshot: StatusSnapshot): string {
  const counts = new Map<Health, number>();
  for (const s of snapshot.services) counts.set(s.health, (counts.get(s.health) ?? 0) + 1);
  const serving = counts.get('SERVING') ?? 0;
  const total = snapshot.services.length;
  const summary = [...counts]
    .filter(([h]) => h !== 'SERVING')
    .map(
      ([h, n]) =>
        `<span class="pill" style="background:${HEALTH_COLORS[h]}">${n} ${e(h.replace('_', ' ').toLowerCase())}</span>`,
    )
    .join('');
  const blender = snapshot.services.find((s) => s.role === 'blender');
  return (
    `<header><h1>feedloom <span>status</span></h1>` +
    `<div class="summary"><span class="pill" style="background:${serving === total ? HEALTH_COLORS.SERVING : '#5b6775'}" data-summary="serving">${serving}/${total} serving</span>${summary}` +
    (blender?.latency
      ? `<span class="kv">Blend mean <b>${formatMs(blender.latency.meanMs)}</b> p99 <b>${formatMs(blender.latency.p99Ms)}</b> <span class="muted">(${e(blender.latency.window)})</span></span>`
      : '') +
    `<span class="kv">world <b>${e(snapshot.world.preset)}</b> <span class="muted">${e(snapshot.world.dir)}</span></span></div>` +
    `<div class="stamp" data-generated="${snapshot.generatedAtMs}">updated ${clock(snapshot.generatedAtMs)} UTC (collected in ${snapshot.tookMs} ms) · refreshes every ${Math.round(snapshot.refreshMs / 1000)} s <span id="stale"></span></div></header>` +
    servicesSection(snapshot.services) +
    generatorTable(snapshot) +
    modelsSection(snapshot.models, snapshot.generatedAtMs) +
    scheduleSection(snapshot.schedule, snapshot.generatedAtMs) +
    experimentsSection(snapshot.experiments) +
    sourcesSection(snapshot)
  );
}

const CSS = `
*{box-sizing:border-box}body{margin:0;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;background:#f4f6f9}
main{max-width:1240px;margin:0 auto;padding:14px 20px 30px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;margin-bottom:6px}
h1{font-size:20px;margin:0}h1 span{font-weight:400;color:#6b7785}
h2{font-size:15px;margin:18px 0 8px}h2 .sub{font-weight:400;color:#6b7785;font-size:12px;margin-left:6px}
h3{font-size:13px;margin:12px 0 6px;color:#3e4c59}
.summary{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.pill{color:#fff;border-radius:10px;padding:1px 9px;font-weight:600}
.kv{color:#3e4c59}.stamp{color:#6b7785;font-size:12px;margin-left:auto}
section{background:#fff;border:1px solid #e1e6ec;border-radius:6px;padding:4px 14px 10px;margin-top:12px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(228px,1fr));gap:6px}
.tile{border:1px solid #e1e6ec;border-left:5px solid #999;border-radius:4px;padding:4px 8px;background:#fbfcfd}
.tile-top{display:flex;gap:6px;align-items:baseline}.tile .name{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.tile .state{margin-left:auto;font-size:11px;font-weight:700;white-space:nowrap}
.tile-lat{font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.tile-addr{font-size:11px;color:#8795a1;display:flex;justify-content:space-between;gap:6px;white-space:nowrap}.tile-addr .addr{overflow:hidden;text-overflow:ellipsis}
h3 .sub{font-weight:400;color:#8795a1;font-size:11px}
.src{color:#52606d;font-size:10.5px;background:#eef1f5;border-radius:3px;padding:0 4px;white-space:nowrap}.muted{color:#8795a1}.bad{color:#b42318}.warn{color:#9a6700}
.chip{display:inline-block;border-radius:8px;padding:0 6px;font-size:11px;background:#e4e7eb;color:#3e4c59}
table{border-collapse:collapse;width:100%}th{text-align:left;font-weight:600;font-size:12px;color:#3e4c59;vertical-align:bottom;padding:4px 6px;border-bottom:1px solid #d5dbe2}
td{padding:3px 6px;border-bottom:1px solid #f0f2f5;white-space:nowrap;vertical-align:middle}
td .num,td.num{font-variant-numeric:tabular-nums;font-size:12px}td .num{margin-left:6px}
td svg.bar{vertical-align:middle}.kind{color:#6b7785}
tr.ref td{color:#52606d;font-style:italic;background:#fafbfc}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:baseline}
.foot{color:#52606d;font-size:12px;margin:8px 0 2px}
.legend{margin-right:10px;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:-1px}
td.serving{color:#2e9e5b;font-weight:600}
.sources ul{margin:4px 0;padding-left:18px}.sources li{margin:2px 0}.notes{color:#9a6700}
`;

const SCRIPT = `
(() => {
  const every = REFRESH_MS;
  const main = document.getElementById('status');
  let failures = 0;
  async function tick() {
    try {
      const r = await fetch('/fragment', { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      main.innerHTML = await r.text();
      failures = 0;
    } catch (err) {
      failures++;
      const stale = document.getElementById('stale');
      if (stale) stale.textContent = ' · cannot reach the admin service (' + err.message + '); showing older data';
    } finally {
      setTimeout(tick, every * Math.min(4, 1 + failures));
    }
  }
  setTimeout(tick, every);
})();
`;

/** The whole page. */
export function renderPage(snapshot: StatusSnapshot): string {
  const seconds = Math.max(1, Math.round(snapshot.refreshMs / 1000));
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>feedloom status</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<noscript><meta http-equiv="refresh" content="${seconds}"></noscript>` +
    `<style>${CSS}</style></head><body><main id="status">${renderBody(snapshot)}</main>` +
    `<script>${SCRIPT.replace('REFRESH_MS', String(snapshot.refreshMs))}</script></body></html>`
  );
}

// The status page's Experiments section: the Blends each variant served, and each shadow
// generator's scorecard per variant (the blender's ExperimentReport, as `feedloom experiments report`
// prints it).
import { escapeHtml as e } from './charts.js';
import type { ExperimentsView } from './status.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function experimentsSection(view: ExperimentsView): string {
  const head = `<section><h2>Experiments <span class="sub">Blends per variant · shadow generators' scorecards, since the blender started</span></h2>`;
  if (!view.available) return `${head}<p class="muted">${e(view.reason)}</p></section>`;
  const traffic = view.traffic.length
    ? `<table class="experiments"><thead><tr><th>experiment</th><th>variant</th><th>Blends</th></tr></thead><tbody>` +
      view.traffic
        .map(
          (t) =>
            `<tr data-variant="${e(`${t.experiment}:${t.variant}`)}"><td>${e(t.experiment)}<span class="muted"> ${e(view.descriptions[t.experiment] ?? '')}</span></td>` +
            `<td>${e(t.variant)}</td><td class="num">${t.blends}</td></tr>`,
        )
        .join('') +
      `</tbody></table>`
    : '<p class="muted">No experiments in the mesh config.</p>';
  const cards = view.scorecards.length
    ? `<table class="scorecards"><thead><tr><th>shadow generator</th><th>variant</th><th>calls</th><th>ok</th><th>p50 / p99</th>` +
      `<th>candidates per call</th><th>overlap with served</th><th>only it brought, per call</th><th>of those eligible</th>` +
      `<th>would make the page, per call</th><th>calls with one on the page</th><th>ranker utility: its own / page</th></tr></thead><tbody>` +
      view.scorecards
        .map(
          (c) =>
            `<tr data-scorecard="${e(`${c.generator} ${c.variant}`)}"><td>${e(c.generator)}</td><td>${e(c.variant)}</td>` +
            `<td class="num">${c.calls}</td><td class="num">${pct(c.okShare)}</td>` +
            `<td class="num">${c.latencyP50Ms.toFixed(1)} / ${c.latencyP99Ms.toFixed(1)} ms</td>` +
            `<td class="num">${c.candidatesPerCall.toFixed(1)}</td><td class="num">${pct(c.overlapShare)}</td>` +
            `<td class="num">${c.onlyBroughtPerCall.toFixed(1)}</td><td class="num">${pct(c.eligibleShare)}</td>` +
            `<td class="num" data-would-make-page="${c.wouldMakePage}">${c.pageItemsPerCall.toFixed(2)}</td><td class="num">${pct(c.callsWithPageItemsShare)}</td>` +
            `<td class="num">${c.rankerScored ? `${c.onlyBroughtMeanUtility.toFixed(3)} / ${c.pageMeanUtility.toFixed(3)}` : '<span class="muted">not ranked</span>'}</td></tr>`,
        )
        .join('') +
      `</tbody></table>`
    : '<p class="muted">No shadow generator asked yet (none is marked shadow, or no Blend since the blender started).</p>';
  return (
    head +
    traffic +
    cards +
    `<p class="foot">From Blender/ExperimentReport at ${e(view.blender)}, since ${new Date(view.sinceMs).toISOString()}. ` +
    `A shadow generator is asked beside the served ones and never waited for; its candidates never reach a page. ` +
    `"Would make the page": its only-brought candidates on the page that served and shadow candidates together would make ` +
    `under the same policy, ranked by the ranker in a call of its own after the response.</p></section>`
  );
}

// The experiments report as people read it: the Blends each variant served, and each shadow
// generator's scorecard per variant with its shares worked out. Fetched from a blender
// (Blender.ExperimentReport, an operation); printed by `feedloom experiments report` and shown on
// the status page.
import {
  BlenderClient,
  type ExperimentReportResponse,
  type ShadowScorecard,
} from '../../../generated/feedloom/v1/blender.js';
import { callUnary, connect, type ChannelSecurity } from '../../../libs/bootstrap/client.js';

/** One scorecard with the shares a reader wants (0 where the count under it is 0). */
export interface ScorecardView extends ShadowScorecard {
  /** Calls answered OK. */
  okShare: number;
  /** Mean candidates per OK call. */
  candidatesPerCall: number;
  /** Of its candidates, the share a served generator proposed too. */
  overlapShare: number;
  /** Only-brought candidates per OK call. */
  onlyBroughtPerCall: number;
  /** Of its only-brought candidates, the share that passed the filters. */
  eligibleShare: number;
  /** Only-brought items on the page served and shadow candidates would make together, per OK call. */
  pageItemsPerCall: number;
  /** OK calls with at least one such item. */
  callsWithPageItemsShare: number;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

export function scorecardView(card: ShadowScorecard): ScorecardView {
  return {
    ...card,
    okShare: ratio(card.ok, card.calls),
    candidatesPerCall: ratio(card.candidates, card.ok),
    overlapShare: ratio(card.overlapping, card.candidates),
    onlyBroughtPerCall: ratio(card.onlyBrought, card.ok),
    eligibleShare: ratio(card.onlyBroughtEligible, card.onlyBrought),
    pageItemsPerCall: ratio(card.wouldMakePage, card.ok),
    callsWithPageItemsShare: ratio(card.blendsWithPageItems, card.ok),
  };
}

/** The blender's report (its admin token or the mesh's). */
export async function fetchExperimentReport(
  address: string,
  channel: ChannelSecurity,
  timeoutMs = 5_000,
): Promise<ExperimentReportResponse> {
  const client = connect(BlenderClient, address, channel);
  try {
    return await callUnary(client, 'experimentReport', {}, { timeoutMs });
  } finally {
    client.close();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The report as a terminal table. `descriptions`: each experiment's line from the config. */
export function formatExperimentReport(
  report: ExperimentReportResponse,
  blender: string,
  descriptions: ReadonlyMap<string, string> = new Map(),
): string {
  const lines = [`experiments on blender ${blender}, since ${new Date(report.sinceMs).toISOString()}`];
  if (report.traffic.length === 0) lines.push('  no experiments in the mesh config');
  let experiment = '';
  for (const t of report.traffic) {
    if (t.experiment !== experiment) {
      experiment = t.experiment;
      const about = descriptions.get(experiment);
      lines.push(`  ${experiment}${about ? `: ${about}` : ''}`);
    }
    lines.push(`    ${t.variant.padEnd(24)} ${String(t.blends).padStart(8)} Blends`);
  }
  lines.push('', 'shadow generators, per variant of the users they were asked for');
  if (report.scorecards.length === 0) {
    lines.push('  none asked yet (no generator is shadow, or no Blend since the blender started)');
    return lines.join('\n');
  }
  const header = [
    'generator'.padEnd(20),
    'variant'.padEnd(28),
    'calls'.padStart(7),
    'ok'.padStart(7),
    'p50 ms'.padStart(8),
    'p99 ms'.padStart(8),
    'cand'.padStart(7),
    'overlap'.padStart(8),
    'only'.padStart(7),
    'eligible'.padStart(9),
    'on page'.padStart(8),
    'Blends'.padStart(7),
    'utility only/page'.padStart(18),
  ];
  lines.push(`  ${header.join(' ')}`);
  for (const c of report.scorecards.map(scorecardView)) {
    const utility = c.rankerScored
      ? `${c.onlyBroughtMeanUtility.toFixed(3)} / ${c.pageMeanUtility.toFixed(3)}`
      : 'not ranked';
    const row = [
      c.generator.padEnd(20),
      c.variant.padEnd(28),
      String(c.calls).padStart(7),
      pct(c.okShare).padStart(7),
      c.latencyP50Ms.toFixed(1).padStart(8),
      c.latencyP99Ms.toFixed(1).padStart(8),
      c.candidatesPerCall.toFixed(1).padStart(7),
      pct(c.overlapShare).padStart(8),
      c.onlyBroughtPerCall.toFixed(1).padStart(7),
      pct(c.eligibleShare).padStart(9),
      c.pageItemsPerCall.toFixed(2).padStart(8),
      pct(c.callsWithPageItemsShare).padStart(7),
      utility.padStart(18),
    ];
    lines.push(`  ${row.join(' ')}`);
  }
  for (const c of report.scorecards)
    if (c.unscored > 0)
      lines.push(
        `  ${c.generator} for ${c.variant}: ${c.unscored} counterfactual pages in pre-score order (no ranker, the rank stage off, or the ranker failed)`,
      );
  lines.push(
    '',
    '  cand: candidates per OK call; overlap: share of them a served generator proposed too; only: per call,',
    '  the ones only it brought; eligible: share of those past the filters; on page: per call, how many of',
    '  them the page of served and shadow candidates together would hold (same policy, ranked when the',
    "  variant ranks); Blends: share of calls with at least one; utility: the ranker's mean for its",
    '  only-brought candidates / for the items of that page.',
  );
  return lines.join('\n');
}

import { isPresetName, PRESET_NAMES } from '../../../libs/data/simulator/presets.js';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { defineCommand, JSON_OUTPUT, REPO_ROOT, WORLD } from '../../../libs/bootstrap/command.js';
import { loadMeshConfig, type MeshConfig } from '../../../libs/config/mesh.js';
import { loadGeneratorModule } from '../../generators/registry.js';
import { buildWorld } from '../../../libs/data/build.js';
import { readWorldManifest } from '../../../libs/data/world.js';
import { parseSplit, type UserLastSplit } from '../../../libs/eval/user-last-split.js';
import { runEval, type EvalReport } from '../../offline/eval/run-eval.js';
import { formatVariantReport } from '../../offline/eval/variant-eval.js';
import { runSplitEval, type SplitEvalReport } from '../../offline/eval/run-split-eval.js';
import { lastEvalPath } from '../admin/eval-report.js';
import { describeLearned } from '../../offline/trainer/prepare-world.js';

export interface EvalCommand {
  configPath: string;
  preset?: string;
  worldDir?: string;
  json: boolean;
  /** Default: 20,100 with a per-user split, 100,500 with the last-day split. */
  ks?: number[];
  /**
   * `user-last:F` holds out the last share F of each user's interactions (the default on imported
   * worlds, user-last:0.2); `last-day` holds out the world's last day (the default on simulated ones).
   */
  split?: string;
  maxUsers: number;
  /** Also write the table, with what each generator is for, to this markdown file. */
  docPath?: string;
  tuneWeights?: boolean;
  /** Also replay the test users through each experiment variant's policy (last-day split). */
  variants?: boolean;
  /** Seed of the trainers the per-user split eval runs (two-tower, mf, ranker); default 7. */
  seed?: number;
  /** Per-user split: learn the training world's blend weights and ranker again, reusing its generator models. */
  retrainRanker?: boolean;
  /** Per-user split: leave out the other user tower's row (its training is the longest step on a large log). */
  servedTowerOnly?: boolean;
}

export const evalCommand = defineCommand({
  name: 'eval',
  usage:
    '[--preset small|--world DIR] [--split user-last:0.2|last-day] [--json] [--k 100,500] [--users N] [--doc FILE] [--tune-weights] [--variants] [--seed N]',
  summary: `recall, coverage, overlap, marginal value per generator
(an imported world: --split user-last:0.2 and --k 20,100 by default, with
popularity, item-kNN and EASE beside the generators and the served Blend)`,
  options: {
    preset: {
      type: 'string',
      arg: PRESET_NAMES.join('|'),
      help: "evaluate the preset's simulated world (data/<preset>, built when missing)",
    },
    world: { ...WORLD, help: 'evaluate the existing (e.g. imported) world in DIR' },
    split: {
      type: 'string',
      arg: 'user-last:F|last-day',
      help: 'what is held out (default: user-last:0.2 on imported worlds, last-day on simulated ones)',
    },
    json: { ...JSON_OUTPUT, help: 'print the report as JSON (progress goes to stderr)' },
    k: {
      type: 'string',
      arg: 'LIST',
      help: 'recall cut-offs (default: 20,100 with a per-user split, 100,500 with the last day)',
    },
    users: { type: 'string', arg: 'N', default: '400', help: 'evaluate at most N users' },
    doc: {
      type: 'string',
      arg: 'FILE',
      help: 'also write the table, with what each generator is for, to FILE (last-day split)',
    },
    'tune-weights': {
      type: 'boolean',
      help: 'learn blender weights on half the users, check them on the other half (last-day split)',
    },
    variants: {
      type: 'boolean',
      help: "replay the test users through the config as written and each experiment variant's policy: recall and coverage with 95% intervals over users",
    },
    seed: {
      type: 'string',
      arg: 'N',
      help: 'seed of the models the eval trains: two-tower, mf, ranker (per-user split; default 7)',
    },
    'retrain-ranker': {
      type: 'boolean',
      help: "learn the training world's blend weights and ranker again, reusing its snapshots and generator models (per-user split)",
    },
    'served-tower-only': {
      type: 'boolean',
      help: "leave out the other user tower's row, and its training (per-user split)",
    },
  },
  run: ({ values }) =>
    runEvalCommand({
      configPath: values.config,
      preset: values.preset,
      worldDir: values.world,
      json: values.json,
      ks: values.k === undefined ? undefined : values.k.split(',').map(Number),
      split: values.split,
      maxUsers: Number(values.users),
      docPath: values.doc,
      tuneWeights: values['tune-weights'],
      variants: values.variants,
      seed: values.seed === undefined ? undefined : Number(values.seed),
      retrainRanker: values['retrain-ranker'],
      servedTowerOnly: values['served-tower-only'],
    }),
});

export async function runEvalCommand(cmd: EvalCommand): Promise<number> {
  const mesh = loadMeshConfig(cmd.configPath);
  if (cmd.preset) {
    if (!isPresetName(cmd.preset)) throw new Error(`--preset must be one of ${PRESET_NAMES.join(', ')}`);
    mesh.world = {
      ...mesh.world,
      preset: cmd.preset,
      dir: resolve(REPO_ROOT, 'data', cmd.preset),
    };
  }
  if (cmd.ks?.some((k) => !Number.isInteger(k) || k < 1 || k > 10_000))
    throw new Error('--k must be a comma-separated list of integers from 1 to 10000');
  if (cmd.seed !== undefined && !Number.isInteger(cmd.seed)) throw new Error('--seed must be an integer');
  if (cmd.split !== undefined && cmd.split !== 'last-day') parseSplit(cmd.split); // a bad --split fails before any work
  // With --json, stdout carries only the JSON.
  const log = cmd.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  if (cmd.worldDir) mesh.world = { ...mesh.world, dir: resolve(cmd.worldDir) };
  // The eval trains its own models as of the split: only the world itself is needed here.
  else await buildWorld({ preset: mesh.world.preset, seed: mesh.world.seed, dir: mesh.world.dir, log });
  const split = await splitOf(cmd.split, mesh.world.dir);
  if (split) {
    if (cmd.docPath || cmd.tuneWeights)
      throw new Error('--doc and --tune-weights go with the last-day split only (--split last-day)');
    const report = await runSplitEval(mesh, {
      split,
      ks: cmd.ks ?? [20, 100],
      maxUsers: cmd.maxUsers,
      seed: cmd.seed,
      retrainRanker: cmd.retrainRanker,
      servedTowerOnly: cmd.servedTowerOnly,
      variants: cmd.variants,
      log,
    });
    console.log(cmd.json ? JSON.stringify(report, null, 2) : formatSplitReport(report));
    if (report.variants && !cmd.json) console.log(`\n${formatVariantReport(report.variants)}`);
    writeFileSync(
      lastEvalPath(mesh.world.dir),
      JSON.stringify({ ...report, finishedAt: new Date().toISOString() }, null, 2),
    );
    return report.meshError ? 1 : 0;
  }
  if (cmd.seed !== undefined) throw new Error('--seed goes with a per-user split (--split user-last:F)');
  if (cmd.retrainRanker) throw new Error('--retrain-ranker goes with a per-user split (--split user-last:F)');
  if (cmd.servedTowerOnly) throw new Error('--served-tower-only goes with a per-user split (--split user-last:F)');
  const report = await runEval(mesh, {
    ks: cmd.ks ?? [100, 500],
    maxUsers: cmd.maxUsers,
    tuneWeights: cmd.tuneWeights,
    variants: cmd.variants,
    log,
  });
  console.log(cmd.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (report.variants && !cmd.json) console.log(`\n${formatVariantReport(report.variants)}`);
  // The status page shows the last eval of the world it serves.
  writeFileSync(
    lastEvalPath(mesh.world.dir),
    JSON.stringify({ ...report, finishedAt: new Date().toISOString() }, null, 2),
  );
  if (cmd.docPath) {
    writeFileSync(
      cmd.docPath,
      await generatorsDoc(
        report,
        mesh,
        `npx feedloom eval${cmd.preset ? ` --preset ${cmd.preset}` : ''} --doc ${cmd.docPath}`,
      ),
    );
    console.error(`wrote ${cmd.docPath}`);
  }
  return 0;
}

/** The split asked for, or the world's default: per-user on imported worlds, the last day on simulated ones. */
async function splitOf(flag: string | undefined, worldDir: string): Promise<UserLastSplit | undefined> {
  if (flag === 'last-day') return undefined;
  if (flag !== undefined) return parseSplit(flag);
  return (await readWorldManifest(worldDir)).source === 'import' ? parseSplit('user-last:0.2') : undefined;
}

/** docs/GENERATORS.md: the eval table from a real run, and one line per generator on what it is for. */
async function generatorsDoc(report: EvalReport, mesh: MeshConfig, command: string): Promise<string> {
  const lines = [
    '# Generators',
    '',
    `Every generator serves \`feedloom.v1.CandidateGenerator\`. This page is written by \`${command}\`; the table below`,
    `is from that run on ${new Date().toISOString().slice(0, 10)}, on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB.`,
    '',
    '## What each one is for, and what it costs per request',
    '',
    '| generator | kind | what it is for | request-time cost |',
    '|---|---|---|---|',
  ];
  for (const g of mesh.generators) {
    const module = await loadGeneratorModule(g.name);
    lines.push(`| \`${g.name}\` | ${module.kind} | ${module.description} | ${module.requestCost} |`);
  }
  lines.push(
    '',
    '## Offline evaluation',
    '',
    'Time split: snapshots and user contexts as of the start of the last day; recall is the share of',
    "each test user's clicks and saves on that day, on items they had not engaged with before nor seen",
    "within the events service's seen window (`services.events.seenWindowHours`), found in the first K candidates.",
    'Coverage: share of the catalog proposed to anyone. Overlap: share',
    "of a generator's top 100 that some other generator also proposes. Marginal: blended recall lost when",
    'the generator is removed from the blend. Latency: one Generate call over gRPC, on a loaded machine.',
    "true@K ÷oracle: each list's expected clicks plus saves if its first K items were shown, by the",
    "simulator's own model (P(engage | shown) at the top slot, the user's interest that day, items the",
    "user knew counted as nothing), over the oracle's: the K items with the highest such chance. No",
    'list of K items can beat the oracle there, so the ratio is at most 1.00×. The recall columns stay',
    'a measure of the logged engagements, which depend on what the simulated feed showed: there',
    "popularity-driven lists can beat the oracle's recall, which is printed for reference only.",
    'Learned models are trained on every day before the test day (their settings were chosen on a',
    "held-out day). The blend row runs the blender's own stages (dedupe, filter, pre-score, compose",
    'page with its caps) over every generator\'s answer, on a page of the largest K; "served quotas" cuts',
    'each answer to the quota the mesh config asks for when serving, as the blender sees it.',
    '',
    '```',
    formatReport(report),
    '```',
    '',
  );
  return lines.join('\n');
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatReport(r: EvalReport): string {
  const ks = r.ks.map((k) => `@${k}`);
  // The honest oracle: expected engagement if shown, as a share of the best any list could earn.
  const oracle = r.oracle;
  const honest = oracle?.trueAtK !== undefined;
  const ratioCols = honest ? ks.map((k) => `true${k} ÷oracle`) : [];
  const ratios = (row: { trueVsOracle?: Record<string, number> }) =>
    honest ? ks.map((k) => (row.trueVsOracle?.[k] === undefined ? '' : `${row.trueVsOracle[k].toFixed(3)}×`)) : [];
  const head = [
    'generator',
    'kind',
    ...ks.map((k) => `recall${k}`),
    ...ratioCols,
    'coverage',
    'overlap',
    'marginal',
    'p50 ms',
    'p99 ms',
  ];
  const rows = [...r.generators]
    .sort((a, b) => (b.recall[ks[ks.length - 1]] ?? 0) - (a.recall[ks[ks.length - 1]] ?? 0))
    .map((g) =>
      [
        g.name,
        g.kind,
        ...ks.map((k) => pct(g.recall[k])),
        ...ratios(g),
        pct(g.coverage),
        pct(g.overlap),
        pct(g.marginal),
        g.p50Ms.toFixed(2),
        g.p99Ms.toFixed(2),
      ].concat(g.errors ? [`${g.errors} errors`] : []),
    );
  for (const b of [r.blend, r.servedBlend])
    if (b) rows.push([b.name, '', ...ks.map((k) => pct(b.recall[k])), ...ratios(b), pct(b.coverage), '', '', '', '']);
  if (oracle)
    rows.push([
      'oracle (highest true P(engage if shown))',
      '',
      ...ks.map((k) => pct(oracle.recall[k])),
      ...(honest ? ks.map(() => '1.000×') : []),
      '',
      '',
      '',
      '',
      '',
    ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    `eval on ${r.world}: test day ${r.testDay}, ${r.users} users (recall of their clicks and saves that day)`,
    line(head),
    `|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
    ...(oracle?.trueAtK
      ? [
          '',
          `true@K: expected clicks plus saves per user if the first K were shown (the simulator's P(engage | shown)); the oracle's: ${ks.map((k) => `${k} ${oracle.trueAtK![k].toFixed(2)}`).join(', ')}.`,
          "The oracle's recall is of the logged engagements, which depend on exposure: other rows can beat it there.",
        ]
      : []),
    ...(r.tuning
      ? [
          '',
          `blender weights tuned for recall${ks[ks.length - 1]} (learned on half the users, checked on the other half):`,
          `  before: ${pct(r.tuning.before.tune)} tune / ${pct(r.tuning.before.holdout)} holdout; after: ${pct(r.tuning.after.tune)} tune / ${pct(r.tuning.after.holdout)} holdout`,
          `  weights: ${JSON.stringify(r.tuning.weights)}`,
        ]
      : []),
  ].join('\n');
}

export function formatSplitReport(r: SplitEvalReport): string {
  const ks = r.ks.map((k) => `@${k}`);
  const head = ['row', 'kind', ...ks.map((k) => `recall${k}`), 'coverage', 'note'];
  const cells = (row: SplitEvalReport['generators'][number]) => [
    row.name,
    row.kind,
    ...ks.map((k) => (row.recall[k] === undefined ? '' : pct(row.recall[k]))),
    row.recall[ks[0]] === undefined ? '' : pct(row.coverage),
    [
      row.note,
      row.errors ? `${row.errors} errors` : '',
      row.historyItems ? `${row.historyItems} items from the users' own history` : '',
    ]
      .filter(Boolean)
      .join('; '),
  ];
  const byRecall = (rows: SplitEvalReport['generators']) =>
    [...rows].sort((a, b) => (b.recall[ks[ks.length - 1]] ?? -1) - (a.recall[ks[ks.length - 1]] ?? -1));
  const rows = [...byRecall(r.generators), ...r.blends, ...(r.preScoreBlends ?? []), ...r.baselines].map(cells);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const last = head.length - 1;
  const line = (c: string[]) =>
    `| ${c.map((x, i) => (i < 2 || i === last ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join(' | ')} |`;
  return [
    `eval on ${r.world}: split ${r.split} (each user's last ${+(100 * r.fraction).toFixed(1)}% of interactions, by time, held out), ${r.users} users, ${r.catalogItems} catalog items`,
    `${r.metric}; every list is the full catalog minus the user's training items; coverage: share of the catalog in some user's list at the row's largest K`,
    line(head),
    `|${widths.map((w, i) => (i < 2 || i === last ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
    ...(r.easeLambda
      ? [
          '',
          `EASE λ on the validation slice (recall${ks[ks.length - 1]}): ${Object.entries(r.easeLambda.recallByLambda)
            .map(([l, x]) => `${l} → ${pct(x)}`)
            .join(', ')}`,
        ]
      : []),
    ...(r.learnedWeights
      ? [
          '',
          `blend weights learned on the training part (${r.learnedWeights.objective}; ${r.learnedWeights.users.tune} replayed users fitted, ${r.learnedWeights.users.holdout} held out):`,
          `  ${describeLearned(r.learnedWeights)}`,
        ]
      : []),
    ...r.blends
      .filter((b) => b.heldOutFates)
      .flatMap((b) => [
        '',
        `where the held-out items went, ${b.name}: ${Object.entries(b.heldOutFates!)
          .map(([fate, share]) => `${fate} ${pct(share)}`)
          .join(', ')}`,
      ]),
    ...(r.meshError ? ['', `the mesh rows are missing: ${r.meshError}`] : []),
    '',
    `training world: ${r.trainWorld}; seconds: ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ].join('\n');
}

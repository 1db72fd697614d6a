import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMeshConfig } from '../../libs/config/mesh.js';
import { buildWorld } from '../../libs/data/build.js';
import { runEval, type EvalReport } from '../eval/run-eval.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface EvalCommand {
  configPath: string;
  preset?: string;
  worldDir?: string;
  json: boolean;
  ks: number[];
  maxUsers: number;
}

const PRESETS = ['tiny', 'small', 'default', 'large'] as const;

export async function runEvalCommand(cmd: EvalCommand): Promise<number> {
  const mesh = loadMeshConfig(cmd.configPath);
  if (cmd.preset) {
    if (!PRESETS.includes(cmd.preset as (typeof PRESETS)[number])) throw new Error(`--preset must be one of ${PRESETS.join(', ')}`);
    mesh.world = { ...mesh.world, preset: cmd.preset as (typeof PRESETS)[number], dir: resolve(ROOT, 'data', cmd.preset) };
  }
  if (cmd.worldDir) mesh.world = { ...mesh.world, dir: resolve(cmd.worldDir) };
  else await buildWorld({ preset: mesh.world.preset, seed: mesh.world.seed, dir: mesh.world.dir });
  if (cmd.ks.some((k) => !Number.isInteger(k) || k < 1 || k > 10_000)) throw new Error('--k must be a comma-separated list of integers from 1 to 10000');
  const log = cmd.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  const report = await runEval(mesh, { ks: cmd.ks, maxUsers: cmd.maxUsers, log });
  console.log(cmd.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatReport(r: EvalReport): string {
  const ks = r.ks.map((k) => `@${k}`);
  const head = ['generator', 'kind', ...ks.map((k) => `recall${k}`), 'coverage', 'overlap', 'marginal', 'p50 ms', 'p99 ms'];
  const rows = [...r.generators]
    .sort((a, b) => (b.recall[ks[ks.length - 1]] ?? 0) - (a.recall[ks[ks.length - 1]] ?? 0))
    .map((g) => [g.name, g.kind, ...ks.map((k) => pct(g.recall[k])), pct(g.coverage), pct(g.overlap), pct(g.marginal), g.p50Ms.toFixed(2), g.p99Ms.toFixed(2)].concat(g.errors ? [`${g.errors} errors`] : []));
  rows.push([r.blend.name, '', ...ks.map((k) => pct(r.blend.recall[k])), pct(r.blend.coverage), '', '', '', '']);
  if (r.oracle) rows.push(['oracle (true prefs, no exposure)', '', ...ks.map((k) => pct(r.oracle!.recall[k])), '', '', '', '', '']);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    `eval on ${r.world}: test day ${r.testDay}, ${r.users} users (recall of their clicks and saves that day)`,
    line(head),
    `|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

// The time of one retraining cycle (`feedloom retrain`: datasets from the newest window, train
// two_tower and the ranker, gate each against the serving version, publish), into a registry of
// its own so the world's models are not touched. The first run trains against an empty registry;
// later runs use --force and gate against the version the run before published.
//   node --import tsx bench/retrain-cycle.ts [--world data/small] [--runs 1] [--doc]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    world: { type: 'string', default: 'data/small' },
    runs: { type: 'string', default: '1' },
    doc: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const registryDir = mkdtempSync(join(tmpdir(), 'feedloom-bench-retrain-'));
const seconds: number[] = [];
const outcomes: string[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const result = spawnSync(
      './bin/feedloom.js',
      ['retrain', '--world', values.world!, '--registry', registryDir, '--force', '--json'],
      { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    seconds.push((performance.now() - started) / 1000);
    if (result.status !== 0 && result.status !== 1)
      throw new Error(`feedloom retrain exited with ${result.status}: ${result.stderr.slice(-2000)}`);
    let summary = `exit ${result.status}`;
    try {
      const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')));
      const models = (report.models ?? []) as {
        model: string;
        outcome: string;
        version?: string;
        timings?: Record<string, number>;
      }[];
      const took = (t: Record<string, number> = {}) => Object.values(t).reduce((a, b) => a + b, 0) / 1000;
      if (models.length)
        summary = models
          .map((m) =>
            `${m.model} ${m.version ?? ''} ${m.outcome} (${took(m.timings).toFixed(0)} s)`.replace(/ +/g, ' '),
          )
          .join('; ');
    } catch {
      // no JSON report (an older retrain): the time is still what this benchmark measures
    }
    outcomes.push(summary);
    console.log(`run ${run + 1}/${runs}: ${seconds[seconds.length - 1].toFixed(1)} s (${summary})`);
  }
} finally {
  rmSync(registryDir, { recursive: true, force: true });
}
const body = [
  `One \`feedloom retrain\` cycle on \`${values.world}\` (both models, the config's window and gates, no rollout), into an empty registry of its own; median of ${runs} run(s).`,
  '',
  table(
    ['runs', 'median s', 'min s', 'max s', 'outcome (last run)'],
    [[runs, median(seconds), Math.min(...seconds), Math.max(...seconds), outcomes[outcomes.length - 1]]],
  ),
].join('\n');
if (values.doc)
  writeSection(
    'retrain',
    'Retraining cycle',
    `node --import tsx bench/retrain-cycle.ts --world ${values.world} --runs ${runs} --doc`,
    body,
  );
console.log(body);

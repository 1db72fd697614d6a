// EASE's dense fit at the size of a simulated world (issue 14): one fit (λ 500) of the eval's
// training matrix (the world's user-last:0.2 split) per OpenBLAS thread count, the eval's whole EASE
// baseline (λ picked among six on a validation slice, then the final fit), the ease_neighbors batch
// job, and with --before one fit by the in-JavaScript solve the LAPACK one replaced (same matrix,
// largest weight difference reported). CPU seconds beside wall seconds: on a shared machine the
// wall clock is mostly the other jobs'.
// --items N cuts the matrix to its N items with the most users (the in-JavaScript solve is n³ in one
// thread: minutes at a few thousand items on a loaded machine).
//   node --import tsx bench/ease-fit.ts --world DIR [--items N] [--threads 1,2] [--before] [--no-baseline] [--no-eval] [--no-job] [--doc]
// The split is built under DIR/eval/ (or reused) like `feedloom eval` does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Ease } from '../libs/cf/ease.js';
import { buildInteractions } from '../libs/cf/interactions.js';
import { runBatchJobs } from '../libs/data/batch/run.js';
import { pickEaseLambda } from '../libs/eval/baselines/tune-ease.js';
import { buildSplitWorld } from '../libs/eval/split-world.js';
import { easeWeightsInJs } from '../test/fixtures/ease-in-js.js';
import { table, writeSection } from './lib.js';

const { values } = parseArgs({
  options: {
    world: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    items: { type: 'string' },
    before: { type: 'boolean', default: false },
    'no-eval': { type: 'boolean', default: false },
    'no-baseline': { type: 'boolean', default: false },
    'no-job': { type: 'boolean', default: false },
    doc: { type: 'boolean', default: false },
  },
});
if (!values.world) throw new Error('--world DIR is required');
const worldDir = resolve(values.world);
const rows: (string | number)[][] = [];
const seconds = async <T>(run: () => Promise<T> | T): Promise<[T, number]> => {
  const started = performance.now();
  const result = await run();
  return [result, (performance.now() - started) / 1000];
};
const record = (what: string, s: number, cpu: string, note = '') => {
  rows.push([what, s.toFixed(1), cpu, note]);
  console.log(`${what}: ${s.toFixed(1)} s, CPU ${cpu} s ${note}`);
};
/** The CPU seconds the python solve reports in its timing line. */
const cpuOf = (line: string) => /CPU ([\d.]+) s/.exec(line)?.[1] ?? '?';

let shape = '';
if (!values['no-eval']) {
  const fraction = 0.2;
  const split = await buildSplitWorld(worldDir, { fraction }, console.log);
  const pairs = [...split.train].flatMap(([user, items]) => items.map((item) => [user, item] as const));
  const users = new Map<string, number>();
  for (const [, item] of pairs) users.set(item, (users.get(item) ?? 0) + 1);
  const head = new Set(
    [...users]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
      .slice(0, values.items ? Number(values.items) : undefined)
      .map(([item]) => item),
  );
  const m = buildInteractions(pairs.filter(([, item]) => head.has(item)));
  shape = `${m.users.length.toLocaleString('en-US')} users × ${m.items.length.toLocaleString('en-US')} items, ${m.userItems.length.toLocaleString('en-US')} interactions`;
  console.log(`eval training matrix: ${shape}`);
  let fitted: Ease | undefined;
  for (const threads of values.threads!.split(',').map(Number)) {
    let line = '';
    const [ease, s] = await seconds(() => Ease.fit(m, 500, { threads, log: (l) => (line = l) }));
    record(`one fit, λ 500, LAPACK, ${threads} thread(s)`, s, cpuOf(line), line);
    fitted = ease;
  }
  if (!values['no-baseline']) {
    const [choice, tuned] = await seconds(() => pickEaseLambda(split.train, fraction, 100));
    const [, final] = await seconds(() => Ease.fit(m, choice.lambda));
    record(
      'the eval’s EASE baseline: λ among 6 + the final fit',
      tuned + final,
      '',
      `λ ${choice.lambda} (tuning ${tuned.toFixed(1)} s, final fit ${final.toFixed(1)} s)`,
    );
  }
  if (values.before) {
    const cpu = process.cpuUsage();
    const [b, s] = await seconds(() => easeWeightsInJs(m, 500));
    const { user, system } = process.cpuUsage(cpu);
    const n = m.items.length;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const row = fitted!.scores([i]);
      for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(row[j] - b[i * n + j]));
    }
    record(
      'one fit, λ 500, in JavaScript (before)',
      s,
      ((user + system) / 1e6).toFixed(1),
      `largest abs(ΔB) against LAPACK ${worst.toExponential(1)}`,
    );
  }
}
if (!values['no-job']) {
  const snapshotsDir = mkdtempSync(join(tmpdir(), 'feedloom-bench-ease-'));
  try {
    const [[result]] = await seconds(() => runBatchJobs({ worldDir, snapshotsDir, only: ['ease_neighbors'] }));
    record(
      'ease_neighbors batch job (maxItems 5,000)',
      result.ms / 1000,
      '',
      `${result.rows} rows; ${result.notes?.join(' ') ?? ''}`,
    );
  } finally {
    rmSync(snapshotsDir, { recursive: true, force: true });
  }
}

if (values.doc) {
  const name = basename(worldDir);
  writeSection(
    `ease-fit-${name}${values.items ? `-${values.items}` : ''}`,
    `EASE's dense fit on \`${name}\`${values.items ? `, its ${values.items} items with the most users` : ''}`,
    `node --import tsx bench/ease-fit.ts ${process.argv.slice(2).join(' ')}`,
    [
      shape ? `The eval's training matrix (user-last:0.2): ${shape}. Run under \`nice -n 10\`, beside other jobs.` : '',
      '',
      table(['what', 'wall s', 'CPU s', 'note'], rows),
    ].join('\n'),
  );
}
